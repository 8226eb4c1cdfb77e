"""The control socket: private file mode, same-uid callers served, other users refused."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from worktally.client.agent.control import AgentRequestError, ControlServer, ask
from worktally.client.errors import WorktallyError


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


def _echo(request: dict) -> dict:
    if request["cmd"] == "fail":
        raise WorktallyError("asked to fail; do something else")
    if request["cmd"] == "crash":
        raise RuntimeError("internal")
    return {"echo": request, "pid": os.getpid()}


@pytest.fixture
def server():
    srv = ControlServer(_echo).start()
    yield srv
    srv.close()


def test_same_user_is_served(server):
    assert ask({"cmd": "hello", "n": 3}) == {"echo": {"cmd": "hello", "n": 3}, "pid": os.getpid()}


def test_socket_file_is_0600_in_a_0700_home(server):
    assert server.path.stat().st_mode & 0o777 == 0o600
    assert server.path.parent.stat().st_mode & 0o777 == 0o700


def test_agent_errors_reach_the_caller(server):
    with pytest.raises(AgentRequestError, match="asked to fail"):
        ask({"cmd": "fail"})
    with pytest.raises(WorktallyError, match="RuntimeError"):
        ask({"cmd": "crash"})
    # A failing request must not take the server down.
    assert ask({"cmd": "still-there"})["echo"]["cmd"] == "still-there"


def test_malformed_lines_get_an_error_not_a_hangup(server):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(server.path))
        sock.sendall(b"not json\n[1,2]\n")
        reader = sock.makefile("rb")
        first, second = json.loads(reader.readline()), json.loads(reader.readline())
    assert first["ok"] is False and "bad request" in first["error"]
    assert second["ok"] is False


def test_no_agent_means_none():
    assert ask({"cmd": "status"}) is None


def test_stale_socket_file_means_none(tmp_path):
    # A SIGKILLed agent leaves its socket file behind with nobody listening.
    path = tmp_path / "home" / "agent.sock"
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()
    assert path.exists()
    assert ask({"cmd": "status"}, timeout=1.0) is None


def test_close_removes_the_socket_file():
    srv = ControlServer(_echo).start()
    path = srv.path
    assert path.exists()
    srv.close()
    assert not path.exists()


def _ask_as_nobody(path: Path) -> dict:
    """Connect from a forked child that dropped to uid 65534 (the venv's python is root-only)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            os.close(read_fd)
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(path))
                # The server may refuse and close before the request is written: its
                # answer is still readable, so a broken pipe here is not a failure.
                with contextlib.suppress(BrokenPipeError):
                    sock.sendall(b'{"cmd": "status"}\n')
                os.write(write_fd, sock.makefile("rb").readline())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 10)
        assert ready, "the child did not answer in time"
        line = os.read(read_fd, 65536)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    return json.loads(line)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_another_uid_is_rejected():
    # A short world-traversable dir, because pytest's own tmp root is 0700 to others.
    base = Path(tempfile.mkdtemp(prefix="wt-ctl-"))
    try:
        base.chmod(0o711)
        srv = ControlServer(_echo, path=base / "s" / "agent.sock").start()
        try:
            # Loosen the 0700/0600 modes on purpose: the uid check must hold on its own.
            srv.path.parent.chmod(0o711)
            srv.path.chmod(0o666)
            answer = _ask_as_nobody(srv.path)
            assert answer["ok"] is False
            assert "permission denied" in answer["error"]
        finally:
            srv.close()
    finally:
        shutil.rmtree(base)


def test_too_long_a_home_is_refused_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / ("h" * 120)))
    with pytest.raises(WorktallyError, match="shorter directory"):
        ControlServer(_echo).start()
    assert ask({"cmd": "status"}) is None
