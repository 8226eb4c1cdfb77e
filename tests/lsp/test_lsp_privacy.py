"""Canaries: no code and no file name reaches the spool, the log file or stderr."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from urllib.parse import quote

from lsp_editor import Editor, lsp_range, run_editor, spooled_edits, spooled_registrations

from worktally.client.capture.line_keys import LineKeyer


def all_bytes_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_canaries_in_code_and_file_name_never_leave_memory(
    git_repo, worktally_home: Path, tmp_path: Path, keyer: LineKeyer
) -> None:
    canary = f"cnry{uuid.uuid4().hex}"
    repo = git_repo("plain-repo")
    file_name = f"{canary}_billing.py"
    path = repo.write(f"src/{file_name}", "")
    log_file = tmp_path / "logs" / "lsp.log"
    typed = f'api_key = "{canary}"'
    ai_block = f"def leak():\n    return '{canary}' + 'x'\n"
    pasted = f"PASTED = '{canary}-paste'\n"

    async def script(editor: Editor) -> bytes:
        uri = editor.open(path, f"# {canary}\n")
        end = editor.type(uri, (1, 0), typed + "\n")
        ai_end = editor.insert(uri, end, ai_block)
        editor.notify("worktally/aiEdit", {"uri": uri, "range": lsp_range(end, ai_end),
                                           "tool": "copilot", "kind": "completion"})
        paste_end = editor.insert(uri, ai_end, pasted)
        editor.notify("worktally/paste", {"uri": uri, "range": lsp_range(ai_end, paste_end)})
        # A bad signal whose message could echo its params must not leak them either.
        editor.notify("worktally/aiEdit", {"uri": uri, "range": lsp_range(end, ai_end),
                                           "tool": canary, "kind": canary})
        await editor.stop()
        return editor.stderr

    stderr = run_editor(repo.root, script, args=("-v", "--log-file", str(log_file)))

    edits = spooled_edits()
    assert {e.source for e in edits} == {"typed", "ai", "bulk"}  # the canaries were captured
    assert sum(len(e.keys) for e in edits) == len(keyer.keys_of_text(
        f"{typed}\n{ai_block}{pasted}"))
    # The registration carries the repo root by design (the agent keys it at once),
    # never a file name.
    assert [r.path for r in spooled_registrations()] == [str(repo.root.resolve())]

    needles = [canary.encode(), quote(canary).encode(), file_name.encode()]
    haystacks = {**all_bytes_under(worktally_home), log_file: log_file.read_bytes(),
                 Path("<stderr>"): stderr}
    leaks = [(str(p), n) for p, data in haystacks.items() for n in needles if n in data]
    assert leaks == []
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
