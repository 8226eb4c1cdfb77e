"""The server as an editor sees it: bad params, status, pause, roots, UTF-16, periodic flush."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lsp_editor import (
    WIDTHS,
    Editor,
    lsp_range,
    run_editor,
    spooled_edits,
    spooled_registrations,
)
from lsprotocol import types

from worktally.client import paths
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import EditEvent
from worktally.client.capture.spool import Backlog, Spool
from worktally.lsp.status import status_reply

POLL_TIMEOUT_S = 15.0
# The reply grew ai_modified, counts, spool and note (it had the first six keys only).
STATUS_KEYS = {"typed", "ai", "bulk", "external", "paused", "agent", "ai_modified", "counts",
               "spool", "note"}
ORIGINAL_KEYS = ("typed", "ai", "bulk", "external", "paused", "agent")


async def poll_status(editor: Editor, done: Any) -> dict[str, Any]:
    """Ask for status until `done(status)` holds, or fail at the deadline."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        status = await editor.status()
        if done(status) or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


BAD_PARAMS: list[Any] = [
    None,
    [1, 2],
    {"range": lsp_range((0, 0), (1, 0)), "tool": "x", "kind": "chat"},
    {"uri": "file:///x.py", "range": "0-1", "tool": "x", "kind": "chat"},
    {"uri": "file:///x.py", "range": lsp_range((3, 0), (1, 0)), "tool": "x", "kind": "chat"},
    {"uri": "file:///x.py", "range": lsp_range((0, 0), (1, 0)), "tool": "x", "kind": "vibes"},
]


def test_bad_signal_params_never_kill_the_server(git_repo, keyer: LineKeyer) -> None:
    repo = git_repo("svc")
    path = repo.write("main.py", "")

    async def script(editor: Editor) -> dict[str, Any]:
        uri = editor.open(path)
        for params in BAD_PARAMS:
            editor.notify("worktally/aiEdit", params)
        editor.notify("worktally/paste", {"uri": uri})
        editor.type(uri, (0, 0), "still_alive = True")
        status = await editor.status()
        await editor.stop()
        return status

    status = run_editor(repo.root, script)
    assert set(status) == STATUS_KEYS
    edits = spooled_edits()
    assert Counter(k for e in edits for k in e.keys) == Counter(keyer.keys(["still_alive = True"]))


def test_bad_params_are_reported_to_the_editor(git_repo) -> None:
    repo = git_repo("svc")

    async def script(editor: Editor) -> tuple[list[str], int | None]:
        for params in BAD_PARAMS:
            editor.notify("worktally/aiEdit", params)
        await editor.status()  # the notifications before it have been handled
        await editor.stop()
        return editor.log_messages, editor.returncode

    messages, returncode = run_editor(repo.root, script)
    assert returncode == 0
    ignored = [m for m in messages if "ignored worktally/aiEdit" in m]
    assert len(ignored) == len(BAD_PARAMS)
    assert any("'kind' must be one of" in m for m in ignored)


def test_status_without_agent_counts_this_session(git_repo) -> None:
    repo = git_repo("svc")
    path = repo.write("calc.py", "")

    async def script(editor: Editor) -> tuple[dict[str, Any], dict[str, Any]]:
        uri = editor.open(path)
        before = await editor.status()
        editor.type(uri, (0, 0), "first_value = 1\nsecond_value = 2")
        editor.insert(uri, (2, 0), "\nbulk_value = compute()\nmore_bulk = other()\n")
        editor.save(uri)
        after = await poll_status(editor, lambda s: s["typed"] == 2 and s["bulk"] == 2)
        return before, after

    before, after = run_editor(repo.root, script)
    assert {k: before[k] for k in ORIGINAL_KEYS} == {
        "typed": 0, "ai": 0, "bulk": 0, "external": 0, "paused": False, "agent": False}
    assert {k: after[k] for k in ORIGINAL_KEYS} == {
        "typed": 2, "ai": 0, "bulk": 2, "external": 0, "paused": False, "agent": False}
    assert set(after) == STATUS_KEYS and after["ai_modified"] == 0
    # No agent: the counts are this session's, and what waits in the spool is said plainly.
    assert (before["counts"], after["counts"]) == ("session", "session")
    assert before["spool"]["edit_lines"] == 0
    assert after["spool"]["edit_lines"] == 4 and after["spool"]["complete"] is True
    assert after["spool"]["batches"] >= 1 and after["spool"]["records"] >= 3
    note = after["note"]
    assert "agent is not running" in note and f"{after['spool']['batches']} batches" in note


def test_settled_edits_are_spooled_without_save_or_shutdown(git_repo, keyer: LineKeyer) -> None:
    repo = git_repo("svc")
    path = repo.write("loop.py", "")

    async def script(editor: Editor) -> list[Any]:
        uri = editor.open(path)
        editor.type(uri, (0, 0), "settled_line = 42")
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while not spooled_edits() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return spooled_edits()

    edits = run_editor(repo.root, script, options={"settleMs": 100, "flushIntervalMs": 20})
    assert [list(e.keys) for e in edits] == [keyer.keys(["settled_line = 42"])]


def test_paused_capture_records_nothing(git_repo) -> None:
    repo = git_repo("svc")
    path = repo.write("secret_work.py", "")
    paths.paused_flag().write_text("", encoding="utf-8")

    async def script(editor: Editor) -> dict[str, Any]:
        uri = editor.open(path)
        editor.type(uri, (0, 0), "paused_typing = 1")
        editor.insert(uri, (1, 0), "\npaused_bulk = compute()\n")
        editor.save(uri)
        return await editor.status()

    status = run_editor(repo.root, script)
    assert status["paused"] is True
    assert spooled_edits() == []


def test_work_tree_roots_are_registered_once(git_repo, tmp_path: Path) -> None:
    first, second, third = git_repo("first"), git_repo("second"), git_repo("third")
    plain = tmp_path / "plain"
    plain.mkdir()
    nested = first.write("pkg/deep/mod.py", "")
    outside_workspace = third.write("tool.py", "")

    async def script(editor: Editor) -> None:
        editor.open(nested)
        editor.open(outside_workspace)  # its repo is registered by opening the document
        editor.client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=plain.as_uri(), name="plain"),
                       types.WorkspaceFolder(uri=(second.root / "").as_uri(), name="second")],
                removed=[],
            )))
        await editor.status()

    run_editor(first.root, script)
    registered = Counter(r.path for r in spooled_registrations())
    assert registered == Counter({str(first.root.resolve()): 1, str(second.root.resolve()): 1,
                                  str(third.root.resolve()): 1})


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
def test_columns_with_emoji_and_cjk_in_every_encoding(
    git_repo, keyer: LineKeyer, encoding: str
) -> None:
    """UTF-16 by default; Neovim 0.10+ negotiates UTF-8 first, and pygls honours it."""
    repo = git_repo("svc")
    emoji_line = "s = '" + "😀" * 30 + "'"  # 36 code points, 66 UTF-16 units, 126 bytes
    cjk_line = "label = '中文'"
    path = repo.write("emoji.py", "")
    ai_text = "  # ai_note\nai_second_line = compute(2)"
    completion = "😀!"  # two code points, three UTF-16 units: only an exact range finds it
    width = WIDTHS[encoding]

    async def script(editor: Editor) -> None:
        assert editor.negotiated == encoding
        uri = editor.open(path, f"{emoji_line}\n{cjk_line}\n")
        # An AI insert at the end of the emoji line: that line now holds AI text.
        start = (0, width(emoji_line))
        end = editor.insert(uri, start, ai_text)
        editor.notify("worktally/aiEdit", {"uri": uri, "range": lsp_range(start, end),
                                           "tool": "copilot", "kind": "completion"})
        # A two-character completion inside the CJK line (now line 2).
        at = (2, width("label = '中文"))
        done = editor.insert(uri, at, completion)
        editor.notify("worktally/aiEdit", {"uri": uri, "range": lsp_range(at, done),
                                           "tool": "copilot", "kind": "completion"})
        # Typing after an emoji, key by key, with UTF-16 columns.
        editor.type(uri, (3, 0), "x = '😀'")

    run_editor(repo.root, script, encoding=encoding)
    edits = spooled_edits()
    ai = Counter(k for e in edits if e.source == "ai" for k in e.keys)
    typed = Counter(k for e in edits if e.source == "typed" for k in e.keys)
    expected_ai = [emoji_line + "  # ai_note", "ai_second_line = compute(2)",
                   "label = '中文😀!'"]
    assert ai == Counter(keyer.keys(expected_ai))
    assert typed == Counter(keyer.keys(["x = '😀'"]))


def test_protocol_errors_stay_quiet_and_name_no_path(git_repo) -> None:
    repo = git_repo("svc")
    never_opened = repo.root / "cnry-never-opened.py"

    async def script(editor: Editor) -> tuple[list[str], bytes, dict[str, Any]]:
        # A change for a document the server never saw opened fails inside pygls.
        editor.versions[never_opened.as_uri()] = 1
        editor.replace(never_opened.as_uri(), (0, 0), (0, 0), "x")
        status = await editor.status()
        await editor.stop()
        return editor.shown_messages, editor.stderr, status

    shown, stderr, status = run_editor(repo.root, script)
    assert set(status) == STATUS_KEYS  # still serving
    assert shown == []
    assert b"was not handled" in stderr
    assert b"cnry-never-opened" not in stderr


def test_status_without_agent_reports_what_waits_in_the_spool(git_repo) -> None:
    # Another editor's lines from earlier, not yet drained: the agent is down.
    Spool().write([EditEvent(source="typed", keys=(1, 2, 3), file_id="f", line_count=3),
                   EditEvent(source="ai", keys=(4, 5), file_id="f", line_count=2,
                             tool="copilot", kind="completion")])
    repo = git_repo("svc")

    async def script(editor: Editor) -> dict[str, Any]:
        return await editor.status()

    status = run_editor(repo.root, script)
    assert (status["agent"], status["counts"]) == (False, "session")
    assert status["spool"]["edit_lines"] == 5 and status["spool"]["records"] >= 2
    assert status["spool"]["batches"] >= 1
    assert "5 lines" in status["note"] and "wait in the spool" in status["note"]


def test_status_reply_shapes() -> None:
    backlog = Backlog(batches=3, records=40, edit_lines=120, complete=False)
    down = status_reply(None, {"typed": 2, "ai_modified": 1}, False, backlog)
    assert (down["typed"], down["ai"], down["ai_modified"], down["counts"]) == (
        2, 0, 1, "session")
    assert "3 batches (40+ records, 120+ lines)" in down["note"]
    idle = status_reply(None, {}, True, Backlog(0, 0, 0))
    assert idle["paused"] is True and "not running" in idle["note"]
    up = status_reply({"typed": 7, "ai": 1, "paused": False}, {"typed": 2}, True, backlog)
    assert (up["typed"], up["paused"], up["agent"], up["note"]) == (7, False, True, None)
    assert up["spool"] == backlog.to_json()
