"""A running agent imports transcripts as an AI tool writes them, not only on its periodic sync."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worktally.client.agent.control import ask

CLI = [sys.executable, "-m", "worktally.client.cli"]
TIMEOUT_S = 60


def assistant_line(message_id: str, output_tokens: int) -> str:
    record = {
        "type": "assistant", "sessionId": "live-session", "cwd": "/nowhere/in/particular",
        "isSidechain": False, "requestId": f"req_{message_id}", "uuid": f"u-{message_id}",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "message": {"id": message_id, "role": "assistant", "model": "claude-sonnet-4-20250514",
                    "content": [{"type": "text", "text": "ok"}],
                    "usage": {"input_tokens": 10, "output_tokens": output_tokens,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}},
    }
    return json.dumps(record) + "\n"


def tokens_now() -> int:
    out = subprocess.run([*CLI, "me", "--json"], capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=True)
    return int(json.loads(out.stdout)["ai_usage"]["tokens_total"])


def wait_for_tokens(expected: int) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while (seen := tokens_now()) != expected:
        assert seen < expected, f"tokens overshot: {seen} > {expected} (a line imported twice)"
        assert time.monotonic() < deadline, f"tokens stayed at {seen}, want {expected}"
        time.sleep(0.2)


@pytest.fixture
def agent(worktally_home: Path, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    projects = tmp_path / "claude" / "projects" / "some-project"
    projects.mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    # An hour between periodic syncs: only the live import can bring the lines in time.
    proc = subprocess.Popen([*CLI, "agent", "--sync-interval", "3600"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        status: dict[str, Any] | None = None
        while status is None or not status.get("last_sync"):
            assert proc.poll() is None, proc.communicate(timeout=10)[1]
            assert time.monotonic() < deadline, f"the agent never finished its first sync: {status}"
            status = ask({"cmd": "status"}, timeout=1.0)
            time.sleep(0.05)
        assert status["transcript_folders"] == 1
        yield projects
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)


def test_lines_are_imported_as_written_and_a_half_line_waits(agent: Path) -> None:
    transcript = agent / "live-session.jsonl"
    first = assistant_line("msg_live_1", 100)
    transcript.write_text(first, encoding="utf-8")
    wait_for_tokens(110)

    second = assistant_line("msg_live_2", 200)
    with transcript.open("a", encoding="utf-8") as out:
        out.write(second[:40])  # the tool is still writing this line
        out.flush()
    with transcript.open("a", encoding="utf-8") as out:
        out.write(second[40:])
    wait_for_tokens(110 + 210)
