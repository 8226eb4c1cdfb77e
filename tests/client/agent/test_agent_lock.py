"""The single-instance lock is exclusive across real processes and freed when its holder dies."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest

from worktally.client.agent.lock import AgentLock, holder_pid, is_held
from worktally.client.errors import AgentBusyError

HOLDER = """
import sys
from worktally.client.agent.lock import AgentLock
lock = AgentLock()
print("held" if lock.try_acquire() else "busy", flush=True)
sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


def _start_holder() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _read_line(proc: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the lock holder did not answer in time"
    return proc.stdout.readline().strip()


def test_second_process_cannot_take_a_held_lock():
    proc = _start_holder()
    try:
        assert _read_line(proc) == "held"
        lock = AgentLock()
        assert not lock.try_acquire()
        assert is_held()
        assert holder_pid() == proc.pid
        with pytest.raises(AgentBusyError, match=str(proc.pid)):
            lock.acquire()
        other = _start_holder()
        try:
            assert _read_line(other) == "busy"
        finally:
            other.communicate(timeout=10)
    finally:
        proc.communicate(timeout=10)
    assert not is_held()
    with AgentLock() as lock:
        assert lock.held
        assert holder_pid() == os.getpid()


def test_a_killed_holder_releases_the_lock():
    proc = _start_holder()
    assert _read_line(proc) == "held"
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    lock = AgentLock()
    while not lock.try_acquire():
        assert time.monotonic() < deadline, "the kernel did not release the dead holder's lock"
        time.sleep(0.02)
    lock.release()


def test_lock_file_is_private(tmp_path):
    with AgentLock():
        mode = (tmp_path / "home" / "agent.lock").stat().st_mode & 0o777
    assert mode == 0o600


def test_two_handles_in_one_process_exclude_each_other():
    first, second = AgentLock(), AgentLock()
    assert first.try_acquire()
    try:
        assert not second.try_acquire()
    finally:
        first.release()
    assert second.try_acquire()
    second.release()
