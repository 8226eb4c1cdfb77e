"""Asking the running agent: one JSON request per line over its 0600 Unix control socket.

The CLI, the language server and other producers use `ask`; it returns None when no agent is
running, so every caller has a way to work without one. The server side is
`worktally.client.agent.control`.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.errors import WorktallyError

# sockaddr_un holds 108 bytes on Linux (104 on macOS) including the terminating NUL.
MAX_SOCKET_PATH = 103
MAX_REQUEST_BYTES = 1_000_000


class AgentRequestError(WorktallyError):
    """The agent received the request but could not carry it out."""


def check_path_length(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise WorktallyError(
            "the worktally home path is too long for a Unix socket; "
            "set WORKTALLY_HOME to a shorter directory"
        )


def ask(
    request: dict[str, Any], timeout: float = 5.0, path: Path | None = None
) -> dict[str, Any] | None:
    """Send one request to the running agent; None when no agent is listening.

    Raises WorktallyError when the agent answers with an error or does not answer in time.
    """
    target = path or paths.socket_path()
    if not target.exists() or len(os.fsencode(target)) > MAX_SOCKET_PATH:
        # Too long a path: no agent can listen there (it refuses to start and says why).
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(target))
        except (FileNotFoundError, ConnectionRefusedError):
            # A socket file left by a killed agent: nobody is listening.
            return None
        except OSError as exc:
            raise WorktallyError(f"could not reach the agent: {exc.strerror or exc}") from exc
        try:
            sock.sendall(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            line = sock.makefile("rb").readline()
        except TimeoutError as exc:
            raise WorktallyError(
                f"the agent did not answer within {timeout:g} s; check `worktally status`"
            ) from exc
        except OSError as exc:
            raise WorktallyError(f"lost the connection to the agent: {exc}") from exc
    finally:
        sock.close()
    if not line:
        raise WorktallyError("the agent closed the connection; check its log")
    answer = json.loads(line)
    if not answer.get("ok"):
        raise AgentRequestError(str(answer.get("error", "unknown agent error")))
    result = answer.get("result")
    return result if isinstance(result, dict) else {}
