"""A tiny real HTTP aggregator on 127.0.0.1 for the report tests: it records every request."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey


@dataclass
class Recorder:
    private_key: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    cohort: str = "team-a"
    epsilon: float = 8.0
    enroll_bodies: list[bytes] = field(default_factory=list)
    reports: list[tuple[bytes, str]] = field(default_factory=list)
    # Status codes to answer the next report uploads with, before the normal 201/200.
    scripted: list[int] = field(default_factory=list)
    accepted_keys: set[str] = field(default_factory=set)
    client_public_key: bytes = b""
    url: str = ""

    @property
    def public_key_b64(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()


def _handler(rec: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, code: int, data: dict[str, object]) -> None:
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/v1/enroll":
                rec.enroll_bodies.append(body)
                rec.client_public_key = base64.b64decode(json.loads(body)["public_key"])
                self._answer(200, {
                    "client_id": "client-0001", "cohort": rec.cohort,
                    "aggregator_public_key": rec.public_key_b64, "schema_version": 1,
                    "epsilon": rec.epsilon, "delta": 0.0, "mechanism": "discrete_laplace",
                    "period": "iso-week",
                })
                return
            if self.path == "/v1/reports":
                key = self.headers.get("Idempotency-Key", "")
                rec.reports.append((body, key))
                if rec.scripted:
                    code = rec.scripted.pop(0)
                    self._answer(code, {"detail": f"scripted {code}"})
                elif key in rec.accepted_keys:
                    self._answer(200, {"status": "duplicate"})
                else:
                    rec.accepted_keys.add(key)
                    self._answer(201, {"status": "accepted"})
                return
            self._answer(404, {"detail": "not found"})

    return Handler


@contextmanager
def recording_aggregator() -> Iterator[Recorder]:
    rec = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
