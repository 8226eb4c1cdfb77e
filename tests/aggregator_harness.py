"""Test harness for local mode: a real aggregator data dir, a real uvicorn subprocess, real
clients enrolled with per-slot tokens, sending schema-2 envelopes."""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from dap_harness import free_port, measurement

from worktally.aggregator.enrollment import issue_tokens
from worktally.aggregator.provisioning import add_cohort, init_data_dir, open_store
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.wire.envelope import ReportPayload, seal
from worktally.client.wire.measurement import SCHEMA_VERSION
from worktally.client.wire.windows import last_ended

START_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 30.0
# The last quarter that has ended (releasable), and the one before it.
_LAST = last_ended("quarter", dt.datetime.now(dt.UTC))
WINDOW, PREVIOUS = _LAST.label, _LAST.previous().label


@dataclass(frozen=True)
class Deployment:
    data: DataDir
    admin_token: str
    officer_token: str
    tokens: dict[str, list[str]]  # per cohort, one enrollment token per roster slot

    def token(self, cohort: str) -> str:
        """The next unused slot token of a cohort (each is used once)."""
        return self.tokens[cohort].pop(0)


def make_deployment(root: Path, cohorts: dict[str, int], min_contributors: int = 1,
                    k_min: int = 2, window: str = "quarter",
                    epsilon: float = 4.0) -> Deployment:
    """init + cohort add + a token per roster slot, in-process; then the database is closed
    so that a server can own it."""
    data = DataDir(root)
    dep = init_data_dir(data, ReleasePolicy(k_min, min_contributors))
    store = open_store(data)
    try:
        tokens = {}
        for name, roster in cohorts.items():
            add_cohort(store, name, roster, window, epsilon)
            tokens[name] = [t.token for t in issue_tokens(store, name, roster)]
    finally:
        store.close()
    return Deployment(data, dep.admin_token, dep.officer_token, tokens)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(data: DataDir, home: Path, extra: tuple[str, ...] = ()) -> Server:
    """`worktally-aggregator serve` on a free loopback port; `extra` are more of its options."""
    port = free_port()
    env = {**os.environ, "WORKTALLY_HOME": str(home)}
    home.mkdir(parents=True, exist_ok=True)
    # A file, not a pipe: a full pipe would block the server mid-test.
    log = home / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "worktally.aggregator.cli", "serve", "--data",
             str(data.root), "--host", "127.0.0.1", "--port", str(port), *extra],
            env=env, stdout=sink, stderr=sink)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aggregator exited early: {log.read_text()}")
        try:
            if httpx.get(f"{server.url}/v1/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)  # polling interval; the deadline bounds the wait
    server.stop()
    raise RuntimeError("aggregator did not answer within the deadline")


@dataclass(frozen=True)
class EnrolledClient:
    """A real client identity: its Ed25519 key and the policy the aggregator handed back."""

    client_id: str
    cohort: str
    slot: int
    signing_key: Ed25519PrivateKey
    aggregator_key: bytes
    epsilon: float
    delta: float
    mechanism: str
    window: str

    def payload(self, values: list[int] | tuple[int, ...], period: str = WINDOW,
                **changes: object) -> ReportPayload:
        fields: dict[str, object] = dict(
            schema_version=SCHEMA_VERSION, cohort=self.cohort, period=period,
            values=tuple(values), epsilon=self.epsilon, delta=self.delta,
            mechanism=self.mechanism, client_id=self.client_id, nonce=secrets.token_hex(16))
        fields.update(changes)
        return ReportPayload(**fields)  # type: ignore[arg-type]

    def sealed(self, values: list[int] | tuple[int, ...], period: str = WINDOW,
               **changes: object) -> bytes:
        return seal(self.payload(values, period, **changes), self.signing_key,
                    self.aggregator_key)


def enroll(url: str, token: str, key: Ed25519PrivateKey | None = None) -> httpx.Response:
    key = key or Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return httpx.post(f"{url}/v1/enroll", timeout=HTTP_TIMEOUT_S,
                      json={"token": token, "public_key": base64.b64encode(raw).decode()})


def enroll_client(url: str, token: str) -> EnrolledClient:
    key = Ed25519PrivateKey.generate()
    response = enroll(url, token, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "local" and body["schema_version"] == SCHEMA_VERSION
    return EnrolledClient(body["client_id"], body["cohort"], body["slot"], key,
                          base64.b64decode(body["aggregator_public_key"]), body["epsilon"],
                          body["delta"], body["mechanism"], body["period"])


def post_report(url: str, data: bytes, key: str | None = None) -> httpx.Response:
    return httpx.post(f"{url}/v1/reports", content=data, timeout=HTTP_TIMEOUT_S,
                      headers={"Idempotency-Key": key or secrets.token_hex(16),
                               "Content-Type": "application/octet-stream"})


def values(i: int) -> list[int]:
    """A report's values as if its noise had come out 0: a valid schema-2 vector, distinct
    per i (local reports are sent unclipped, so any value in the accepted range will do)."""
    return measurement(i)


def column_sums(vectors: list[list[int]]) -> list[int]:
    return [sum(col) for col in zip(*vectors, strict=True)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
