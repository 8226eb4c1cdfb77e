"""With a real `worktally agent` running, the server's edits reach its database and status."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lsp_editor import Editor, lsp_range, run_editor

from worktally.client import config
from worktally.client.agent.control import ask

AGENT_CMD = [sys.executable, "-m", "worktally.client.cli", "agent", "--sync-interval", "3600"]
WAIT_S = 30.0


@pytest.fixture
def agent() -> Iterator[subprocess.Popen[bytes]]:
    # Port 0: never fight another agent over the OTLP port.
    config.set_value("otlp.port", 0)
    proc = subprocess.Popen(AGENT_CMD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + WAIT_S
        while ask({"cmd": "status"}, timeout=1.0) is None:
            assert proc.poll() is None, "the agent exited at start"
            assert time.monotonic() < deadline, "the agent did not come up"
            time.sleep(0.05)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=WAIT_S)


def test_status_comes_from_the_agent_once_edits_are_drained(git_repo, agent) -> None:
    repo = git_repo("with-agent")
    path = repo.write("svc.py", "")
    block = "def serve(port):\n    return listen(port)\n"

    async def script(editor: Editor) -> dict[str, Any]:
        uri = editor.open(path)
        end = editor.type(uri, (0, 0), "typed_line = 1\n")
        ai_end = editor.insert(uri, end, block)
        editor.notify("worktally/aiEdit", {"uri": uri, "range": lsp_range(end, ai_end),
                                           "tool": "codex", "kind": "agent"})
        editor.save(uri)
        deadline = time.monotonic() + WAIT_S
        while True:
            status = await editor.status()
            if (status["typed"], status["ai"]) == (1, 2) or time.monotonic() > deadline:
                return status
            await asyncio.sleep(0.1)

    status = run_editor(repo.root, script)
    # The first six keys are the reply as it was; the agent drained the spool.
    assert {k: status[k] for k in ("typed", "ai", "bulk", "external", "paused", "agent")} == {
        "typed": 1, "ai": 2, "bulk": 0, "external": 0, "paused": False, "agent": True}
    assert (status["ai_modified"], status["counts"], status["note"]) == (0, "agent", None)
