"""The report requests through a real running agent (the database's only owner), against a
real aggregator on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aggregator_harness import WINDOW, make_deployment, start_server

CLI = [sys.executable, "-c", "from worktally.client.cli import main; main()"]
TIMEOUT_S = 60


def worktally(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env={**os.environ, "WORKTALLY_HOME": str(home)}, check=False)


def test_preview_and_send_are_answered_by_the_running_agent(worktally_home: Path,
                                                            tmp_path: Path) -> None:
    deployment = make_deployment(tmp_path / "org", {"team": 3})
    server = start_server(deployment.data, tmp_path / "org-home")
    try:
        enrolled = worktally(worktally_home, "enroll", server.url, deployment.token("team"),
                             "--json")
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
            preview = worktally(worktally_home, "report", "preview", "--window", WINDOW,
                                "--json")
            assert preview.returncode == 0, preview.stderr
            sent = worktally(worktally_home, "report", "send", "--window", WINDOW, "--json")
            assert sent.returncode == 0, sent.stderr
            status = json.loads(worktally(worktally_home, "status", "--json").stdout)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=TIMEOUT_S)
    finally:
        server.stop()
    shown, uploaded = json.loads(preview.stdout), json.loads(sent.stdout)
    assert uploaded["status"] == "accepted" and uploaded["reused"]
    assert uploaded["fields"] == shown["fields"]
    assert status["report"]["last_report"]["window"] == WINDOW
    assert status["report"]["budget"]["spent"] == 4.0
