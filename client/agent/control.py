"""The agent's control socket: newline-delimited JSON over a 0600 Unix socket, same uid only.

Each request is one JSON object per line (`{"cmd": "status"}`); each answer is one line,
`{"ok": true, "result": {...}}` or `{"ok": false, "error": "..."}`. The client side (`ask`)
lives in `worktally.client.control_client`, which producers may import.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.control_client import (
    MAX_REQUEST_BYTES,
    AgentRequestError,
    ask,
    check_path_length,
)
from worktally.client.errors import WorktallyError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]

_PEERCRED = struct.Struct("3i")


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the connected process, or None where the platform cannot tell."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        # macOS has no SO_PEERCRED; the 0700 home and the 0600 socket are the guard there.
        return None
    raw = conn.getsockopt(socket.SOL_SOCKET, option, _PEERCRED.size)
    _pid, uid, _gid = _PEERCRED.unpack(raw)
    return int(uid)


class ControlServer:
    """Accepts connections on the control socket; one short thread per connection."""

    def __init__(self, handler: Handler, path: Path | None = None) -> None:
        self.path = path or paths.socket_path()
        self._handler = handler
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self) -> ControlServer:
        check_path_length(self.path)
        paths.ensure_private_dir(self.path.parent)
        # Only the lock holder starts a server, so a leftover socket file is stale.
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, paths.FILE_MODE)
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._sock is not None:
            try:
                # shutdown wakes the thread blocked in accept(); close alone may not.
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                log.debug("control socket was already shut down")
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._closing.is_set():
            try:
                conn, _addr = self._sock.accept()
            except OSError:
                if self._closing.is_set():
                    return
                log.warning("control socket accept failed; still listening")
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            uid = peer_uid(conn)
            if uid is not None and uid != os.getuid():
                log.warning("rejected a control connection from another user (uid %d)", uid)
                _send(conn, {"ok": False, "error": "permission denied: not the agent's user"})
                return
            reader = conn.makefile("rb")
            for line in reader:
                if len(line) > MAX_REQUEST_BYTES:
                    _send(conn, {"ok": False, "error": "request too large"})
                    return
                _send(conn, self._answer(line))

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise ValueError("a request is a JSON object with a string 'cmd'")
        except ValueError as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        try:
            return {"ok": True, "result": self._handler(request)}
        except WorktallyError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            # The agent must outlive a failing request; the caller sees the error type.
            # The traceback may name local files, so it goes to DEBUG only.
            log.error("control request %r failed: %s", request.get("cmd"), type(exc).__name__)
            log.debug("control request failure", exc_info=True)
            return {"ok": False, "error": f"the agent failed ({type(exc).__name__}); see its log"}


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    try:
        conn.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    except OSError:
        log.debug("a control client left before its answer")


__all__ = ["AgentRequestError", "ControlServer", "ask", "peer_uid"]
