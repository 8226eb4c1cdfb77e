"""The single-instance lock: whoever holds it owns the local DuckDB.

It is an flock on `agent.lock` (released by the kernel if the holder dies, so a SIGKILL
never leaves a stale lock); the holder writes its pid in the file for `worktally status`.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from worktally.client import paths
from worktally.client.errors import AgentBusyError


class AgentLock:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.lock_path()
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when another process (or handle) holds it."""
        if self._fd is not None:
            return True
        paths.ensure_private_dir(self.path.parent)
        # No O_TRUNC: the current holder's pid must stay readable until we own the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, paths.FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock or raise AgentBusyError naming the holder's pid."""
        if not self.try_acquire():
            pid = holder_pid(self.path)
            who = f" (pid {pid})" if pid else ""
            raise AgentBusyError(
                f"another worktally process{who} owns the local database; "
                "stop it (or let it finish) and try again"
            )

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> AgentLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def holder_pid(path: Path | None = None) -> int | None:
    """The pid written by the current holder, or None if the lock is free or unreadable."""
    target = path or paths.lock_path()
    try:
        text = target.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def is_held(path: Path | None = None) -> bool:
    """Whether some process holds the lock right now (probes without keeping it)."""
    probe = AgentLock(path)
    if probe.try_acquire():
        probe.release()
        return False
    return True
