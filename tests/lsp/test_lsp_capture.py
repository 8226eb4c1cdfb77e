"""The real server records typed, AI-marked, bulk and paste lines as keyed edit events."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lsp_editor import Editor, end_of_insert, lsp_range, run_editor, spooled_edits

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import EditEvent

TYPED = "def compute_total(items):\n    subtotal = sum(items)\n    return subtotal * 2\n"
AI_BLOCK = (
    "def fetch_orders(client):\n"
    "    response = client.get('/orders')\n"
    "    return response.json()\n"
)
PASTED = "PASTED_LIMIT = compute_limit(42)\nPASTED_NAME = 'inventory service'\n"
BULK = "class Inventory:\n    def __init__(self):\n        self.items = {}\n"


def keys_by_source(edits: list[EditEvent], source: str) -> Counter[int]:
    return Counter(k for e in edits if e.source == source for k in e.keys)


def test_typed_lines_are_keyed_exactly(git_repo, keyer: LineKeyer) -> None:
    repo = git_repo("shop")
    path = repo.write("src/orders.py", "")

    async def script(editor: Editor) -> None:
        uri = editor.open(path)
        editor.type(uri, (0, 0), TYPED)

    run_editor(repo.root, script)
    edits = spooled_edits()
    assert {e.source for e in edits} == {"typed"}
    assert keys_by_source(edits, "typed") == Counter(keyer.keys_of_text(TYPED))
    assert sum(e.line_count for e in edits) == 3
    assert {e.file_id for e in edits} == {keyer.label("src/orders.py")}
    assert {e.repo_id for e in edits} == {keyer.label(str(repo.root.resolve()))}
    assert {e.language for e in edits} == {"python"}
    assert {e.origin for e in edits} == {"lsp"}


def _ai_params(uri: str, start: tuple[int, int], end: tuple[int, int]) -> dict[str, object]:
    return {"uri": uri, "range": lsp_range(start, end), "tool": "copilot",
            "kind": "completion", "model": "gpt-test"}


def test_ai_mark_after_and_before_its_change(git_repo, keyer: LineKeyer) -> None:
    repo = git_repo("shop")
    path = repo.write("app.py", "import os\n\n")

    async def script(editor: Editor) -> None:
        uri = editor.open(path, "import os\n\n")
        # Mark after the change.
        end = editor.insert(uri, (1, 0), AI_BLOCK)
        editor.notify("worktally/aiEdit", _ai_params(uri, (1, 0), end))
        # Mark before the change, with another tool.
        start = end
        params = _ai_params(uri, start, end_of_insert(*start, BULK))
        params.update(tool="claude-code", kind="chat", model=None)
        del params["model"]
        editor.notify("worktally/aiEdit", params)
        editor.insert(uri, start, BULK)

    run_editor(repo.root, script)
    edits = spooled_edits()
    ai = [e for e in edits if e.source == "ai"]
    copilot = Counter(k for e in ai if e.tool == "copilot" for k in e.keys)
    claude = Counter(k for e in ai if e.tool == "claude-code" for k in e.keys)
    assert copilot == Counter(keyer.keys_of_text(AI_BLOCK))
    assert claude == Counter(keyer.keys_of_text(BULK))
    assert {(e.kind, e.model) for e in ai if e.tool == "copilot"} == {("completion", "gpt-test")}
    assert {(e.kind, e.model) for e in ai if e.tool == "claude-code"} == {("chat", None)}
    assert not [e for e in edits if e.source != "ai"]
    assert sum(e.line_count for e in ai) == 6


def test_unmarked_insert_is_bulk_and_paste_keeps_its_kind(git_repo, keyer: LineKeyer) -> None:
    repo = git_repo("shop")
    path = repo.write("stock.py", "")

    async def script(editor: Editor) -> None:
        uri = editor.open(path)
        end = editor.insert(uri, (0, 0), BULK)
        paste_end = editor.insert(uri, end, PASTED)
        editor.notify("worktally/paste", {"uri": uri, "range": lsp_range(end, paste_end)})

    run_editor(repo.root, script)
    edits = spooled_edits()
    assert {e.source for e in edits} == {"bulk"}
    plain = Counter(k for e in edits if e.kind is None for k in e.keys)
    pasted = Counter(k for e in edits if e.kind == "paste" for k in e.keys)
    assert plain == Counter(keyer.keys_of_text(BULK))
    assert pasted == Counter(keyer.keys_of_text(PASTED))
    assert all(e.tool is None for e in edits)


def test_paste_after_enter_at_the_end_of_an_accepted_block_stays_bulk(
    git_repo, keyer: LineKeyer,
) -> None:
    """Accept, press Enter at once (the block has not settled), paste: as VS Code sends it."""
    repo = git_repo("shop")
    path = repo.write("app.py", "")
    block = AI_BLOCK.rstrip("\n")

    async def script(editor: Editor) -> None:
        uri = editor.open(path)
        end = editor.insert(uri, (0, 0), block)
        editor.notify("worktally/aiEdit", _ai_params(uri, (0, 0), end))
        line, _ = editor.type(uri, end, "\n")
        paste_end = editor.insert(uri, (line, 0), PASTED)
        editor.notify("worktally/paste", {"uri": uri, "range": lsp_range((line, 0), paste_end)})

    run_editor(repo.root, script)
    edits = spooled_edits()
    assert keys_by_source(edits, "ai") == Counter(keyer.keys_of_text(block))
    assert keys_by_source(edits, "bulk") == Counter(keyer.keys_of_text(PASTED))


def test_late_mark_after_unrelated_typing_still_finds_its_change(
    git_repo, keyer: LineKeyer
) -> None:
    repo = git_repo("shop")
    path = repo.write("late.py", "")

    async def script(editor: Editor) -> None:
        uri = editor.open(path)
        end = editor.insert(uri, (0, 0), AI_BLOCK)
        # The user keeps typing below before the integration's signal arrives.
        editor.type(uri, end, "value_after = 1")
        editor.notify("worktally/aiEdit", _ai_params(uri, (0, 0), end))

    run_editor(repo.root, script)
    edits = spooled_edits()
    assert keys_by_source(edits, "ai") == Counter(keyer.keys_of_text(AI_BLOCK))
    assert keys_by_source(edits, "typed") == Counter(keyer.keys(["value_after = 1"]))
    assert not keys_by_source(edits, "bulk")


def test_outside_a_repo_file_id_is_the_keyed_absolute_path(
    tmp_path: Path, worktally_home: Path, keyer: LineKeyer
) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    path = folder / "notes.py"
    path.write_text("", encoding="utf-8")

    async def script(editor: Editor) -> None:
        uri = editor.open(path)
        editor.insert(uri, (0, 0), BULK)

    run_editor(None, script)
    edits = spooled_edits()
    assert edits
    assert {e.file_id for e in edits} == {keyer.label(str(path.resolve()))}
    assert {e.repo_id for e in edits} == {None}
