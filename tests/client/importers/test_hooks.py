"""The hook path: Claude Code's PostToolUse and Cursor's afterFileEdit / afterTabFileEdit as
real subprocesses; the same event id as the transcript importer (nothing doubles, in either
order); the spool batch the agent drains; garbage, an open stdin and a down agent."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from importer_support import FIXTURES, materialise, open_db, run_import

from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.records import to_dict
from worktally.client.capture.spool import Spool
from worktally.client.importers import hook_entry, hook_events
from worktally.client.importers.batch import ImportBatch, edit_event_id
from worktally.client.importers.claude_code import ClaudeCodeParser
from worktally.client.importers.context import ImportContext
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import drain

HOOK = [sys.executable, "-m", "worktally.client.importers.hook_entry"]
TIMEOUT_S = 30
CANARY_CODE = "CANARY_CODE_hook_41aa"
CANARY_PROMPT = "CANARY-PROMPT-hook-9d0e"


def run_hook(tool: str, payload: bytes | str | dict) -> subprocess.CompletedProcess[str]:
    data = payload if isinstance(payload, bytes) else (
        payload if isinstance(payload, str) else json.dumps(payload)).encode()
    out = subprocess.run([*HOOK, tool], input=data, capture_output=True, timeout=TIMEOUT_S,
                         check=False)
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(),
                                       out.stderr.decode())


@pytest.fixture
def claude(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    RepoRegistry(default_keyer()).add(repo.root)
    return materialise(FIXTURES / "claude", tmp_path / "claude", repo.root), repo.root


def _tool_use(root: Path, call_id: str) -> tuple[dict, dict]:
    """(transcript line, tool_use block) of a call in the Claude fixture."""
    for path in sorted(root.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            for block in (doc.get("message") or {}).get("content") or []:
                if isinstance(block, dict) and block.get("id") == call_id:
                    return doc, block
    raise AssertionError(call_id)


def _payload(line: dict, block: dict, with_id: bool = True) -> dict:
    payload = {"session_id": line["sessionId"], "transcript_path": "", "cwd": line["cwd"],
               "permission_mode": "default", "hook_event_name": "PostToolUse",
               "tool_name": block["name"], "tool_input": block["input"],
               "tool_response": {"filePath": block["input"].get("file_path"), "success": True}}
    if with_id:
        payload["tool_use_id"] = block["id"]
    return payload


def _drain(con) -> None:
    drain.drain(con, Spool())


def _edits(con) -> list[tuple]:
    return sorted(con.execute("SELECT event_id, line_count FROM edits").fetchall())


def test_hook_then_importer_store_the_edit_once(claude, tmp_path: Path) -> None:
    root, _ = claude
    line, block = _tool_use(root, "toolu_E1")
    assert run_hook("claude-code", _payload(line, block)).returncode == 0
    con = open_db(tmp_path)
    _drain(con)
    by_hook = _edits(con)
    assert len(by_hook) == 1
    keyer = default_keyer()
    _, file_id = ImportContext(keyer, RepoRegistry(keyer)).file_ids(
        block["input"]["file_path"], line["cwd"])
    assert by_hook[0][0] == edit_event_id("claude-code", "toolu_E1", file_id)
    lines_before = con.execute("SELECT count(*) FROM edit_lines").fetchone()
    run_import(con, "claude-code", root)
    # The importer found the same call: its record is a no-op, the others are new.
    imported = _edits(con)
    assert by_hook[0] in imported
    assert len(imported) == 2  # the fixture's two confirmed edits, toolu_E1 among them
    assert con.execute(
        "SELECT count(*) FROM edit_lines WHERE event_id = ?", [by_hook[0][0]]
    ).fetchone() == lines_before


def test_importer_then_hook_store_the_edit_once(claude, tmp_path: Path) -> None:
    root, _ = claude
    con = open_db(tmp_path)
    run_import(con, "claude-code", root)
    before = (_edits(con), con.execute("SELECT count(*) FROM edit_lines").fetchone())
    line, block = _tool_use(root, "toolu_E1")
    assert run_hook("claude-code", _payload(line, block)).returncode == 0
    assert len(Spool().pending()) == 1
    _drain(con)
    assert (_edits(con), con.execute("SELECT count(*) FROM edit_lines").fetchone()) == before


def test_the_hooks_record_is_the_importers_record(claude) -> None:
    root, _ = claude
    keyer = default_keyer()
    ctx = ImportContext(keyer, RepoRegistry(keyer))
    batch = ImportBatch("claude-code")
    parser = ClaudeCodeParser(ctx, batch, {})
    for path in sorted(root.rglob("s1.jsonl")):
        for offset, raw in enumerate(path.read_bytes().splitlines(keepends=True)):
            parser.feed(raw, offset)
    line, block = _tool_use(root, "toolu_E1")
    records = hook_events.claude_code(keyer, ctx._pairs(), _payload(line, block), now=1.0)
    edit = next(r for r in records if r["type"] == "edit")
    imported = to_dict(batch.edits[edit["event_id"]])
    assert {k: v for k, v in edit.items() if k != "ts"} == {
        k: v for k, v in imported.items() if k != "ts"}
    session = next(r for r in records if r["type"] == "ai_session")
    assert set(session) == set(to_dict(next(iter(batch.sessions.values()))))


def test_without_tool_use_id_the_transcript_tail_names_the_call(claude, tmp_path: Path) -> None:
    root, _ = claude
    line, block = _tool_use(root, "toolu_E1")
    payload = _payload(line, block, with_id=False)
    payload["transcript_path"] = str(next(root.rglob("s1.jsonl")))
    assert run_hook("claude-code", payload).returncode == 0
    con = open_db(tmp_path)
    _drain(con)
    run_import(con, "claude-code", root)
    assert len(_edits(con)) == 2  # still the fixture's two edits: nothing doubled
    # No id and no transcript: an edit the importer might double is not recorded.
    payload["transcript_path"] = str(tmp_path / "missing.jsonl")
    assert run_hook("claude-code", payload).returncode == 0
    assert Spool().pending() == []


def test_nothing_but_keys_reaches_the_spool_or_the_database(tmp_path: Path, git_repo) -> None:
    repo = git_repo()
    RepoRegistry(default_keyer()).add(repo.root)
    payload = {"session_id": "s-canary", "cwd": str(repo.root), "tool_use_id": "toolu_C",
               "hook_event_name": "PostToolUse", "tool_name": "Write",
               "transcript_path": f"/home/{CANARY_PROMPT}.jsonl",
               "tool_input": {"file_path": f"{repo.root}/pkg/secret_module.py",
                              "content": f"def handler():\n    return '{CANARY_CODE}'\n"},
               "tool_response": {"type": "create", "content": CANARY_CODE}}
    assert run_hook("claude-code", payload).returncode == 0
    [batch] = Spool().pending()
    text = batch.read_text()
    for canary in (CANARY_CODE, CANARY_PROMPT, "secret_module", str(repo.root)):
        assert canary not in text
    con = open_db(tmp_path)
    _drain(con)
    assert con.execute("SELECT count(*) FROM edit_lines").fetchone() == (2,)
    from importer_support import assert_no_canaries

    assert_no_canaries(con, [CANARY_CODE, CANARY_PROMPT, "secret_module", str(repo.root)])


def test_the_hook_never_opens_the_database(tmp_path: Path, worktally_home: Path) -> None:
    payload = {"session_id": "s1", "cwd": str(tmp_path), "tool_use_id": "t1",
               "hook_event_name": "PostToolUse", "tool_name": "Edit",
               "tool_input": {"file_path": str(tmp_path / "a.py"), "old_string": "",
                              "new_string": "value = compute_total(1)\n"}}
    assert run_hook("claude-code", payload).returncode == 0
    assert len(Spool().pending()) == 1
    assert not (worktally_home / "worktally.duckdb").exists()


@pytest.mark.parametrize("garbage", [b"", b"not json", b"[1, 2]", b'{"tool_name": 5}',
                                     b"\xff\xfe\x00", json.dumps({"x": "y" * 10}).encode()])
def test_garbage_exits_0_and_spools_nothing(garbage: bytes, worktally_home: Path) -> None:
    out = run_hook("claude-code", garbage + CANARY_PROMPT.encode())
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""
    assert Spool().pending() == []
    log = worktally_home / "logs" / "hooks.log"
    if log.exists():
        assert CANARY_PROMPT not in log.read_text()


def test_a_failure_is_logged_by_type_only(worktally_home: Path) -> None:
    assert run_hook("claude-code", "{" + CANARY_PROMPT).returncode == 0
    text = (worktally_home / "logs" / "hooks.log").read_text()
    assert "hook claude-code: JSONDecodeError" in text and CANARY_PROMPT not in text
    assert run_hook("nonsense", "{}").returncode == 0
    assert "hook nonsense: ValueError" in (worktally_home / "logs" / "hooks.log").read_text()


def test_other_tools_and_failed_calls_record_nothing(tmp_path: Path) -> None:
    base = {"session_id": "s1", "cwd": str(tmp_path), "tool_use_id": "t1",
            "hook_event_name": "PostToolUse"}
    for extra in ({"tool_name": "Bash", "tool_input": {"command": "ls"}},
                  {"tool_name": "Read", "tool_input": {"file_path": "/x"}},
                  {"tool_name": "Edit", "tool_input": {"file_path": "/x", "new_string": "a"},
                   "hook_event_name": "PreToolUse"}):
        assert run_hook("claude-code", {**base, **extra}).returncode == 0
    assert Spool().pending() == []


def test_an_open_stdin_does_not_hold_the_hook(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.write(write, b'{"partial":')
    try:
        started = time.monotonic()
        with os.fdopen(read, "rb", closefd=False) as stream:
            data = hook_entry.read_input(stream, deadline_s=0.3)
        assert time.monotonic() - started < 2.0
        assert data == b'{"partial":'
    finally:
        os.close(read)
        os.close(write)


def test_cursor_agent_and_tab_edits(tmp_path: Path, git_repo) -> None:
    repo = git_repo()
    registry = RepoRegistry(default_keyer())
    registered = registry.add(repo.root)
    common = {"conversation_id": "conv-1", "generation_id": "gen-1",
              "workspace_roots": [str(repo.root)], "model": "claude-4-sonnet",
              "cursor_version": "1.7.44", "file_path": f"{repo.root}/src/app.ts"}
    agent = {**common, "hook_event_name": "afterFileEdit",
             "edits": [{"old_string": "const a = 1\n",
                        "new_string": "const a = 1\nconst limit = computeLimit(a)\n"}]}
    tab = {**common, "hook_event_name": "afterTabFileEdit",
           "edits": [{"old_string": "", "new_string": "return items.filter(isVisible)",
                      "range": {"start_line_number": 9, "start_column": 1,
                                "end_line_number": 9, "end_column": 1}}]}
    for payload in (agent, tab, agent):  # the agent edit delivered twice
        out = run_hook("cursor", payload)
        assert out.returncode == 0 and json.loads(out.stdout) == {}
    con = open_db(tmp_path)
    _drain(con)
    rows = con.execute(
        "SELECT tool, kind, session_id, repo_id, line_count FROM edits ORDER BY kind").fetchall()
    assert rows == [("cursor", "agent", "conv-1", registered.repo_id, 1),
                    ("cursor", "completion", None, registered.repo_id, 1)]
    assert con.execute("SELECT session_id, tool FROM ai_sessions").fetchall() == [
        ("conv-1", "cursor")]


def test_worktally_hook_runs_the_same_code(tmp_path: Path) -> None:
    payload = {"session_id": "s1", "cwd": str(tmp_path), "tool_use_id": "t1",
               "hook_event_name": "PostToolUse", "tool_name": "Write",
               "tool_input": {"file_path": str(tmp_path / "a.py"),
                              "content": "value = compute_total(1)\n"}}
    out = subprocess.run([sys.executable, "-m", "worktally.client.cli", "hook", "claude-code"],
                         input=json.dumps(payload), capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=False)
    assert out.returncode == 0, out.stderr
    [batch] = Spool().pending()
    assert [r.record_type for r in Spool().read(batch).records] == ["ai_session", "edit"]


def test_in_process_main_answers_cursor_with_json() -> None:
    stdout = io.StringIO()
    read, write = os.pipe()
    os.close(write)
    with os.fdopen(read, "rb") as stdin:
        assert hook_entry.main(["cursor"], stdin=stdin, stdout=stdout) == 0
    assert stdout.getvalue() == "{}\n"
