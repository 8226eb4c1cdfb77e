"""The report requests through a real running agent (the database's only owner)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from report_server import recording_aggregator

CLI = [sys.executable, "-c", "from worktally.client.cli import main; main()"]
TIMEOUT_S = 60


def worktally(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env={**os.environ, "WORKTALLY_HOME": str(home)}, check=False)


def test_preview_and_send_are_answered_by_the_running_agent(worktally_home: Path) -> None:
    with recording_aggregator() as rec:
        enrolled = worktally(worktally_home, "enroll", rec.url, "tok", "--json")
        assert enrolled.returncode == 0, enrolled.stderr
        agent = subprocess.Popen(
            [*CLI, "agent"], env={**os.environ, "WORKTALLY_HOME": str(worktally_home)},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                status = worktally(worktally_home, "status", "--json")
                if status.returncode == 0 and json.loads(status.stdout)["agent"]["running"]:
                    break
                assert time.monotonic() < deadline, "the agent did not start"
                assert agent.poll() is None, agent.stderr.read() if agent.stderr else ""
                time.sleep(0.1)
            preview = worktally(worktally_home, "report", "preview", "--week", "2026-W20",
                                "--json")
            assert preview.returncode == 0, preview.stderr
            sent = worktally(worktally_home, "report", "send", "--week", "2026-W20", "--json")
            assert sent.returncode == 0, sent.stderr
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=TIMEOUT_S)
    shown, uploaded = json.loads(preview.stdout), json.loads(sent.stdout)
    assert uploaded["status"] == "accepted" and uploaded["reused"]
    assert uploaded["payload"] == shown["payload"]
    assert len(rec.reports) == 1
