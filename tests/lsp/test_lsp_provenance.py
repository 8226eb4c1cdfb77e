"""The real server: an aiEdit counts its lines once whenever it arrives (before its change,
just after, or after the lines were flushed), and AI lines a person edits become ai_modified.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lsp_editor import Editor, end_of_insert, lsp_range, run_editor, spooled_edits

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import EditEvent
from worktally.client.capture.spool import Spool
from worktally.client.store import db
from worktally.client.store.drain import drain

POLL_TIMEOUT_S = 15.0
AI_BLOCK = (
    "def fetch_orders(client):\n"
    "    response = client.get('/orders')\n"
    "    return response.json()\n"
)
MODIFIED = "    response = client.get('/orders', timeout=5)"


def _ai(uri: str, start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"uri": uri, "range": lsp_range(start, end), "tool": "copilot", "kind": "completion"}


async def _until(what: str, done: Any) -> None:
    """Poll (bounded) until `done()` holds; fail naming `what`."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _sources() -> Counter[str]:
    return Counter(e.source for e in spooled_edits())


def stored(tmp_path: Path) -> tuple[dict[str, int], Counter[str]]:
    """Drain the spool into a fresh database: lines counted per source, and key rows per source."""
    con = db.connect(tmp_path / "drained.duckdb")
    try:
        drain(con, Spool())
        counted = {str(s): int(n) for s, n in con.execute(
            "SELECT source, sum(line_count) FROM edits GROUP BY source").fetchall()}
        rows = Counter({str(s): int(n) for s, n in con.execute(
            "SELECT source, count(*) FROM edit_lines GROUP BY source").fetchall()})
    finally:
        con.close()
    return {s: n for s, n in counted.items() if n}, rows


@pytest.mark.parametrize("order", ["before-the-change", "just-after", "after-the-flush"])
def test_an_ai_edit_counts_its_lines_once_in_any_order(
    git_repo: Any, keyer: LineKeyer, tmp_path: Path, order: str,
) -> None:
    repo = git_repo("orders")
    path = repo.write("orders.py", "")

    async def script(editor: Editor) -> dict[str, Any]:
        uri = editor.open(path)
        end = end_of_insert(0, 0, AI_BLOCK)
        if order == "before-the-change":
            editor.notify("worktally/aiEdit", _ai(uri, (0, 0), end))
            editor.insert(uri, (0, 0), AI_BLOCK)
        elif order == "just-after":
            editor.insert(uri, (0, 0), AI_BLOCK)
            editor.notify("worktally/aiEdit", _ai(uri, (0, 0), end))
        else:
            editor.insert(uri, (0, 0), AI_BLOCK)
            editor.save(uri)  # flushes everything: the block is spooled as bulk first
            await _until("the bulk edit to be spooled", lambda: _sources()["bulk"] == 1)
            editor.notify("worktally/aiEdit", _ai(uri, (0, 0), end))
        editor.save(uri)
        await _until("the ai edit to be spooled", lambda: _sources()["ai"] == 1)
        # The session's counts move just after the spool file lands: poll, bounded.
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while (status := await editor.status())["ai"] != 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return status

    status = run_editor(repo.root, script)
    edits = spooled_edits()
    ai = [e for e in edits if e.source == "ai"]
    assert [list(e.keys) for e in ai] == [keyer.keys_of_text(AI_BLOCK)]
    supersedes = [e.supersedes for e in ai]
    if order == "after-the-flush":
        (bulk,) = [e for e in edits if e.source == "bulk"]
        assert supersedes == [bulk.event_id]
    else:
        assert supersedes == [None]
        assert {e.source for e in edits} == {"ai"}
    # Drained, the lines count once, as AI, and no bulk key row is left behind.
    counted, rows = stored(tmp_path)
    assert counted == {"ai": 3}
    assert rows == Counter({"ai": 3})
    assert (status["ai"], status["bulk"]) == (3, 0)


def test_a_line_the_person_edits_after_an_accept_is_ai_modified(
    git_repo: Any, keyer: LineKeyer, tmp_path: Path,
) -> None:
    repo = git_repo("orders")
    path = repo.write("orders.py", "")

    async def script(editor: Editor) -> None:
        uri = editor.open(path)
        end = editor.insert(uri, (0, 0), AI_BLOCK)
        editor.notify("worktally/aiEdit", _ai(uri, (0, 0), end))
        editor.save(uri)
        await _until("the ai edit", lambda: _sources()["ai"] == 1)
        # The person adds an argument to line 1 key by key and deletes "()" on line 2.
        line = "    response = client.get('/orders'"
        editor.type(uri, (1, len(line)), ", timeout=5")
        editor.replace(uri, (2, 24), (2, 26), "")  # "response.json()" -> "response.json"
        editor.save(uri)
        await _until("the ai_modified edit", lambda: _sources()["ai_modified"] >= 1)

    run_editor(repo.root, script)
    modified = [e for e in spooled_edits() if e.source == "ai_modified"]
    assert modified
    assert Counter(k for e in modified for k in e.keys) == Counter(
        keyer.keys([MODIFIED, "    return response.json"]))
    assert {(e.tool, e.kind) for e in modified} == {("copilot", "completion")}
    # Already counted as AI lines when they were inserted: not counted a second time.
    assert sum(e.line_count for e in modified) == 0
    counted, _ = stored(tmp_path)
    assert counted == {"ai": 3}


def test_an_ai_line_edited_before_it_was_flushed_counts_as_ai_modified(
    git_repo: Any, keyer: LineKeyer,
) -> None:
    repo = git_repo("orders")
    path = repo.write("orders.py", "")

    async def script(editor: Editor) -> None:
        uri = editor.open(path)
        end = editor.insert(uri, (0, 0), AI_BLOCK)
        editor.notify("worktally/aiEdit", _ai(uri, (0, 0), end))
        editor.type(uri, (1, len("    response = client.get('/orders'")), ", timeout=5")

    run_editor(repo.root, script)
    edits: list[EditEvent] = spooled_edits()
    keys = {source: Counter(k for e in edits if e.source == source for k in e.keys)
            for source in ("ai", "ai_modified")}
    assert keys == {
        "ai": Counter(keyer.keys(["def fetch_orders(client):", "    return response.json()"])),
        "ai_modified": Counter(keyer.keys([MODIFIED])),
    }
    counted = Counter()
    for e in edits:
        counted[e.source] += e.line_count
    assert counted == Counter({"ai": 2, "ai_modified": 1})
    assert {e.source for e in edits} == {"ai", "ai_modified"}
