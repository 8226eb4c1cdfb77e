"""Every route of both roles refuses an oversized body early: by its Content-Length before a
byte of it is read, and by the streamed size when there is no Content-Length; JSON and binary
routes alike, before any authentication. A 60 MB POST must not grow the server's memory."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from dap_harness import DapServer, Secure, provision

from worktally.aggregator.body_limit import DEFAULT_LIMIT
from worktally.client.wire.dap import b64url

pytestmark = pytest.mark.slow
SOCKET_TIMEOUT_S = 10.0
MB = 1024 * 1024


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    secure = provision(tmp_path_factory.mktemp("limits"))
    yield secure
    secure.stop()


def _connect(server: DapServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S)
    sock.settimeout(SOCKET_TIMEOUT_S)
    return sock


def _status(sock: socket.socket) -> int:
    """The status code of the answer (TimeoutError when the server is still reading)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed without an answer")
        head += chunk
    return int(head.split(b" ", 2)[1])


def _declared(server: DapServer, method: str, path: str, length: int,
              media: str = "application/json") -> int:
    """Announce `length` bytes, send only 1 KiB of them, and read the answer."""
    with _connect(server) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}"
                     f"\r\nContent-Length: {length}\r\n\r\n".encode() + b"{" * 1024)
        return _status(sock)


def _chunked(server: DapServer, method: str, path: str, total: int,
             media: str = "application/json") -> int:
    """Stream `total` bytes in chunks with no Content-Length; the answer may come early."""
    with _connect(server) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}"
                     "\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"[" * (64 * 1024)
        try:
            for _ in range(total // len(chunk)):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what we want
        return _status(sock)


def _rss_kib(server: DapServer) -> int:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize(("role", "method", "path", "media"), [
    ("leader", "POST", "/v1/enroll", "application/json"),
    ("leader", "POST", "/v1/admin/releases", "application/json"),
    ("leader", "POST", "/v1/privacy/holds", "application/json"),
    ("leader", "POST", "/v1/reports", "application/octet-stream"),
    ("leader", "GET", "/v1/health", "application/json"),
    ("helper", "PUT", "/v1/admin/tasks", "application/json"),
    ("helper", "POST", "/tasks/AAAA/aggregation_jobs",
     "application/ppm-dap;message=aggregation-job-init-req"),
])
def test_a_declared_oversized_body_is_refused_before_it_is_read(
        pair: Secure, role: str, method: str, path: str, media: str) -> None:
    server = pair.leader if role == "leader" else pair.helper
    assert _declared(server, method, path, 60 * MB, media) == 413


def test_the_leaders_upload_route_is_limited_too(pair: Secure) -> None:
    path = f"/tasks/{b64url(pair.task.task_id)}/reports"
    assert _declared(pair.leader, "POST", path, 60 * MB,
                     "application/ppm-dap;message=upload-req") == 413


@pytest.mark.parametrize("role", ["leader", "helper"])
def test_a_streamed_body_without_a_length_is_cut_off(pair: Secure, role: str) -> None:
    server = pair.leader if role == "leader" else pair.helper
    path = "/v1/enroll" if role == "leader" else "/v1/admin/tasks"
    method = "POST" if role == "leader" else "PUT"
    assert _chunked(server, method, path, 4 * MB) == 413


def test_a_small_json_body_still_works(pair: Secure) -> None:
    # Just under the limit: parsed, and refused for what it says, not for its size.
    body = b'{"token": "' + b"a" * (DEFAULT_LIMIT - 64) + b'"}'
    with _connect(pair.leader) as sock:
        sock.sendall(b"POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/json\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\n\r\n" + body)
        assert _status(sock) == 422


def test_sixty_megabytes_to_enroll_do_not_grow_the_server(pair: Secure) -> None:
    before = _rss_kib(pair.leader)
    with _connect(pair.leader) as sock:
        sock.sendall(b"POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/json\r\nContent-Length: " + str(60 * MB).encode()
                     + b"\r\n\r\n")
        chunk = b"{" * MB
        try:
            for _ in range(60):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early and closed
        try:
            status = _status(sock)
        except (ConnectionError, OSError):
            status = 413  # the answer was lost to the reset; the growth check below decides
    grown_mb = (_rss_kib(pair.leader) - before) / 1024
    assert status == 413
    assert grown_mb < 20, f"the server grew by {grown_mb:.0f} MB"
