"""A TCP proxy on 127.0.0.1 that forwards to an upstream port and keeps every byte it carries.

Each connection's two directions are recorded separately, so a test can parse the HTTP
requests clients sent and scan everything that crossed the wire.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

CONNECT_TIMEOUT_S = 10.0


@dataclass
class Connection:
    sent: bytearray = field(default_factory=bytearray)  # client -> server
    received: bytearray = field(default_factory=bytearray)  # server -> client


class RecordingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.connections: list[Connection] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.closed.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(timeout=10)

    def all_bytes(self) -> bytes:
        with self.lock:
            return b"".join(bytes(c.sent) + bytes(c.received) for c in self.connections)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed
            record = Connection()
            with self.lock:
                self.connections.append(record)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port),
                                                timeout=CONNECT_TIMEOUT_S)
            upstream.settimeout(None)
            for source, sink, buffer in ((client, upstream, record.sent),
                                         (upstream, client, record.received)):
                pump = threading.Thread(target=self._pump, args=(source, sink, buffer),
                                        daemon=True)
                pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket, buffer: bytearray) -> None:
        try:
            while chunk := source.recv(65536):
                with self.lock:
                    buffer.extend(chunk)
                sink.sendall(chunk)
        except OSError:
            pass  # either side closed; what was carried is recorded
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by the other pump


def http_requests(data: bytes) -> list[tuple[str, bytes]]:
    """Split one direction of a connection into (request line, body) by Content-Length."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        out.append((lines[0].decode("latin-1"), rest[:length]))
        data = rest[length:]
    return out
