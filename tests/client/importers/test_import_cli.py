"""`worktally import` as a real subprocess, the agent-running spool path, and run_all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from importer_support import FIXTURES, open_db, totals

from worktally.client import config
from worktally.client.agent.lock import AgentLock
from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.spool import Spool
from worktally.client.importers import run_all, watch_roots
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import drain

CLI_TIMEOUT_S = 60
CLAUDE_TOTALS = {"input_tokens": 31, "output_tokens": 102, "cache_creation_tokens": 217,
                 "cache_read_tokens": 3328, "total_tokens": 3678}


def _cli(*args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", "from worktally.client.cli import main; main()", *args],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_import_path_json(worktally_home: Path) -> None:
    data = _cli("import", "claude-code", str(FIXTURES / "claude"), "--json")
    assert data["totals"] == CLAUDE_TOTALS
    assert data["models"]["claude-opus-4-1-20250805"]["total_tokens"] == 2 + 20 + 100
    assert (data["sessions"], data["edits"], data["malformed_lines"]) == (3, 2, 1)
    assert data["spooled"] is False
    # A second run finds nothing new.
    again = _cli("import", "claude-code", str(FIXTURES / "claude"), "--json")
    assert again["totals"]["total_tokens"] == 0 and again["sessions"] == 0


def test_import_default_location_from_claude_config_dir(tmp_path: Path) -> None:
    # A comma-separated list, like ccusage; a missing entry is ignored.
    env = {"CLAUDE_CONFIG_DIR": f"{tmp_path / 'missing'},{FIXTURES / 'claude'}"}
    data = _cli("import", "claude-code", "--json", env=env)
    assert data["totals"] == CLAUDE_TOTALS


def test_codex_home_default_location(tmp_path: Path) -> None:
    data = _cli("import", "codex", "--json", env={"CODEX_HOME": str(FIXTURES / "codex")})
    assert data["totals"]["total_tokens"] == 3380 + 840
    assert data["edits"] == 2


def test_while_the_agent_owns_the_db_records_go_to_the_spool(tmp_path: Path) -> None:
    lock = AgentLock()
    assert lock.try_acquire()
    try:
        data = _cli("import", "claude-code", str(FIXTURES / "claude"), "--json")
        data_again = _cli("import", "claude-code", str(FIXTURES / "claude"), "--json")
    finally:
        lock.release()
    assert data["spooled"] is True and data["totals"] == CLAUDE_TOTALS
    assert data_again["totals"] == CLAUDE_TOTALS
    spool = Spool()
    assert len(spool.pending()) == 2
    # What the agent would do: drain both batches; the records are idempotent.
    con = open_db(tmp_path)
    drain.drain(con, spool)
    assert totals(con, "claude-code") == CLAUDE_TOTALS
    assert con.execute("SELECT count(*) FROM edits").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM ai_sessions").fetchone() == (3,)


def test_run_all_respects_the_tool_switches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(FIXTURES / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(FIXTURES / "codex"))
    keyer = default_keyer()
    registry = RepoRegistry(keyer)
    off = config.from_mapping({"importers": {"claude_code": False}})
    assert watch_roots(off) == [FIXTURES / "codex" / "sessions"]
    con = open_db(tmp_path)
    counts = run_all(con, keyer, registry, off)
    assert set(counts) == {"codex"}
    assert totals(con, "claude-code")["total_tokens"] == 0
    counts = run_all(con, keyer, registry, config.Config())
    assert counts["claude-code"]["sessions"] == 3 and counts["codex"]["sessions"] == 0
    assert totals(con, "claude-code") == CLAUDE_TOTALS


def test_a_tool_home_given_by_hand_reads_only_its_log_folders(tmp_path: Path) -> None:
    home = tmp_path / "dot-claude"
    shutil.copytree(FIXTURES / "claude" / "projects", home / "projects")
    # Claude Code's prompt history sits next to projects/: prompts, never usage.
    (home / "history.jsonl").write_text(json.dumps(
        {"display": "a prompt", "timestamp": "2025-09-03T09:00:00.000Z", "sessionId": "hist",
         "project": str(tmp_path)}) + "\n")
    data = _cli("import", "claude-code", str(home), "--json")
    assert data["sessions"] == 3 and data["files"] == 4
    assert data["totals"] == CLAUDE_TOTALS
