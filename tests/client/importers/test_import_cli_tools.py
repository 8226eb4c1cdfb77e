"""`worktally import <tool>` for every tool added after Claude Code and Codex: as a real
subprocess, from a path and from the tool's default location (its environment variable);
the config switch; and the folders the agent's live import watches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from importer_support import FIXTURES, materialise

from worktally.client import config
from worktally.client.importers import watch_roots

CLI_TIMEOUT_S = 60
# tool -> (fixture, the tool's home variable, what it points at, total tokens, sessions)
TOOLS = {
    "gemini-cli": ("gemini", "GEMINI_DATA_DIR", "tmp", 19986 + 50204 + 8856, 3),
    "qwen-code": ("qwen", "QWEN_DATA_DIR", ".", 49145 + 9875, 2),
    "opencode": ("opencode", "OPENCODE_DATA_DIR", ".", 75981 + 20360, 2),
    "copilot-cli": ("copilot", "COPILOT_HOME", ".", 81037 + 22579 + (8420 + 190), 3),
    "amp": ("amp", "AMP_DATA_DIR", ".", 38593 + 21448, 2),
    "droid": ("droid", "DROID_SESSIONS_DIR", "sessions", 448022 + 32776, 2),
    "aider": ("aider", "AIDER_ANALYTICS_LOG", "analytics.jsonl", 57948 + 968 + 80997 + 854, 12),
}


def _cli(*args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "worktally.client.cli", *args],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("tool", list(TOOLS))
def test_import_from_a_path(tool: str, tmp_path: Path) -> None:
    fixture, _variable, target, total, _sessions = TOOLS[tool]
    root = materialise(FIXTURES / fixture, tmp_path / fixture, tmp_path / "repo")
    path = root / target if tool != "aider" else root
    data = _cli("import", tool, str(path), "--json")
    assert data["totals"]["total_tokens"] == total
    assert data["spooled"] is False
    again = _cli("import", tool, str(path), "--json")
    assert again["totals"]["total_tokens"] == 0  # nothing new the second time


@pytest.mark.parametrize("tool", list(TOOLS))
def test_import_from_the_tools_own_variable(tool: str, tmp_path: Path) -> None:
    fixture, variable, target, total, sessions = TOOLS[tool]
    root = materialise(FIXTURES / fixture, tmp_path / fixture, tmp_path / "repo")
    data = _cli("import", tool, "--json", env={variable: str(root / target)})
    assert data["totals"]["total_tokens"] == total
    if tool != "aider":  # Aider's chat history sits in registered repos, none here
        assert data["sessions"] == sessions


def test_a_switched_off_tool_has_no_roots(tmp_path: Path, monkeypatch) -> None:
    root = materialise(FIXTURES / "amp", tmp_path / "amp", tmp_path)
    monkeypatch.setenv("AMP_DATA_DIR", str(root))
    assert root / "threads" in watch_roots(config.Config())
    off = config.Config(importers=config.ImportConfig(amp=False))
    assert root / "threads" not in watch_roots(off)


def test_watched_folders_of_every_tool(tmp_path: Path, monkeypatch) -> None:
    expected = []
    for tool, (fixture, variable, target, _total, _sessions) in TOOLS.items():
        root = materialise(FIXTURES / fixture, tmp_path / fixture, tmp_path)
        monkeypatch.setenv(variable, str(root / target))
        if tool != "aider":  # a single file is left to the periodic sync
            expected.append(tool)
    roots = watch_roots(config.Config())
    watched = {fixture for tool, (fixture, *_rest) in TOOLS.items()
               if any(str(r).startswith(str(tmp_path / fixture)) for r in roots)}
    assert watched == {TOOLS[t][0] for t in expected}
    assert all(r.is_dir() for r in roots)


def test_while_the_agent_runs_documents_are_spooled_whole(tmp_path: Path) -> None:
    from importer_support import open_db, totals

    from worktally.client.agent.lock import AgentLock
    from worktally.client.capture.spool import Spool
    from worktally.client.store import drain

    root = materialise(FIXTURES / "opencode", tmp_path / "opencode", tmp_path / "repo")
    lock = AgentLock()
    assert lock.try_acquire()
    try:
        data = _cli("import", "opencode", str(root), "--json")
    finally:
        lock.release()
    assert data["spooled"] is True and data["totals"]["total_tokens"] == 75981 + 20360
    con = open_db(tmp_path)
    drain.drain(con, Spool())
    assert totals(con, "opencode")["total_tokens"] == 75981 + 20360


def test_the_live_watcher_wakes_for_every_kind_of_log(tmp_path: Path) -> None:
    import threading

    from watchdog.events import FileModifiedEvent

    from worktally.client.importers.live import TranscriptWatcher, _Changes

    changed = threading.Event()
    handler = _Changes(changed)
    for name in ("a.txt", "b.lock", "c.db-shm"):
        handler.on_any_event(FileModifiedEvent(str(tmp_path / name)))
    assert not changed.is_set()
    for name in ("s.jsonl", "T-1.json", "opencode.db", "opencode.db-wal",
                 ".aider.chat.history.md"):
        changed.clear()
        handler.on_any_event(FileModifiedEvent(str(tmp_path / name)))
        assert changed.is_set(), name
    # A real watcher on a folder: a thread file rewritten wakes the import.
    woke = threading.Event()
    watcher = TranscriptWatcher([tmp_path], woke.set, debounce_s=0.05).start()
    try:
        (tmp_path / "T-2.json").write_text("{}")
        assert woke.wait(10)
    finally:
        watcher.stop()
