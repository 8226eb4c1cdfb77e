"""Test harness: a real aggregator data dir, a real uvicorn subprocess, real enrolled clients."""

from __future__ import annotations

import base64
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

from worktally.aggregator.provisioning import add_cohort, init_data_dir, open_store
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.demo.aggregator_process import free_port
from worktally.client.wire.envelope import ReportPayload, seal
from worktally.client.wire.schema import METRICS, SCHEMA_VERSION

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Deployment:
    data: DataDir
    admin_token: str
    officer_token: str
    enroll_tokens: dict[str, str]


def make_deployment(root: Path, cohorts: dict[str, int], min_contributors: int = 1,
                    k_min: int = 10) -> Deployment:
    """init + cohort add, in-process, then close the database so a server can own it."""
    data = DataDir(root)
    dep = init_data_dir(data, ReleasePolicy(k_min, min_contributors))
    store = open_store(data)
    try:
        tokens = {name: add_cohort(store, name, roster) for name, roster in cohorts.items()}
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


def start_server(data: DataDir, home: Path) -> Server:
    port = free_port()
    env = {**os.environ, "WORKTALLY_HOME": str(home)}
    home.mkdir(parents=True, exist_ok=True)
    # A file, not a pipe: a full pipe would block the server mid-test.
    log = home / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "worktally.aggregator.cli", "serve", "--data",
             str(data.root), "--host", "127.0.0.1", "--port", str(port)],
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
    signing_key: Ed25519PrivateKey
    aggregator_key: bytes
    epsilon: float
    delta: float
    mechanism: str

    def payload(self, values: tuple[int, ...], period: str = "2026-W48",
                **changes: object) -> ReportPayload:
        fields: dict[str, object] = dict(
            schema_version=SCHEMA_VERSION, cohort=self.cohort, period=period, values=values,
            epsilon=self.epsilon, delta=self.delta, mechanism=self.mechanism,
            client_id=self.client_id, nonce=secrets.token_hex(16))
        fields.update(changes)
        return ReportPayload(**fields)  # type: ignore[arg-type]

    def sealed(self, values: tuple[int, ...], period: str = "2026-W48",
               **changes: object) -> bytes:
        return seal(self.payload(values, period, **changes), self.signing_key,
                    self.aggregator_key)


def enroll_client(url: str, token: str) -> EnrolledClient:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    response = httpx.post(f"{url}/v1/enroll", timeout=10,
                          json={"token": token, "public_key": base64.b64encode(raw).decode()})
    response.raise_for_status()
    body = response.json()
    return EnrolledClient(body["client_id"], body["cohort"], key,
                          base64.b64decode(body["aggregator_public_key"]), body["epsilon"],
                          body["delta"], body["mechanism"])


def post_report(url: str, data: bytes, key: str | None = None) -> httpx.Response:
    return httpx.post(f"{url}/v1/reports", content=data, timeout=10,
                      headers={"Idempotency-Key": key or secrets.token_hex(16),
                               "Content-Type": "application/octet-stream"})


def mid_values(offset: int = 0) -> tuple[int, ...]:
    """A valid in-bounds vector (as if noise happened to be small), distinct per offset."""
    return tuple(min(m.upper, m.lower + (m.upper - m.lower) // 2 + offset) for m in METRICS)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
