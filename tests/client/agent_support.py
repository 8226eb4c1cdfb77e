"""Helper for tests that run `worktally agent` as a real subprocess: a clean stop."""

from __future__ import annotations

import signal
import subprocess


def stop_agent(proc: subprocess.Popen[str]) -> str:
    """SIGTERM the agent (SIGKILL if it ignores it) and return its stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return err
