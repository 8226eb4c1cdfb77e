"""Local-mode ingest throughput: reports/s over real HTTP and in-process, against a plain
DuckDB insert.

Run: python bench/bench_ingest.py [--reports N]. Envelopes are sealed before the clock starts,
so the figures measure the aggregator (decrypt, verify, checks, one transaction per report).
"""

from __future__ import annotations

import argparse
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.enrollment import enroll, issue_tokens
from worktally.aggregator.ingest import ingest
from worktally.aggregator.provisioning import (
    add_cohort,
    init_data_dir,
    load_private_key,
    open_store,
)
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.wire.dp_sampling import entry_noise_vector
from worktally.client.wire.envelope import ReportPayload, seal
from worktally.client.wire.measurement import METRIC_NAMES, SCHEMA_VERSION, SECURE_METRICS
from worktally.client.wire.measurement import measurement as clip
from worktally.client.wire.windows import last_ended

WINDOW = last_ended("quarter", datetime.now(UTC)).label


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(root: Path, count: int) -> tuple[DataDir, list[bytes], list[tuple[int, ...]]]:
    """A fresh deployment with `count` enrolled clients and one sealed report from each."""
    data = DataDir(root)
    init_data_dir(data, ReleasePolicy())
    store = open_store(data)
    agg_key = load_private_key(data).public_key().public_bytes_raw()
    envelopes, vectors = [], []
    try:
        c = add_cohort(store, "bench", max(count, 10))
        tokens = issue_tokens(store, "bench", count)
        for i, token in enumerate(tokens):
            key = Ed25519PrivateKey.generate()
            enrolled = enroll(store, token.token, key.public_key().public_bytes_raw())
            clipped = clip({m.name: (i + j) % (m.bound + 1)
                            for j, m in enumerate(SECURE_METRICS)})
            values = tuple(v + d for v, d in zip(clipped, entry_noise_vector(c.epsilon),
                                                 strict=True))
            payload = ReportPayload(SCHEMA_VERSION, c.name, WINDOW, values, c.epsilon,
                                    c.delta, c.mechanism, enrolled.client_id,
                                    secrets.token_hex(16))
            envelopes.append(seal(payload, key, agg_key))
            vectors.append(values)
    finally:
        store.close()
    return data, envelopes, vectors


def in_process(data: DataDir, envelopes: list[bytes]) -> float:
    store = open_store(data)
    private_key = load_private_key(data)
    try:
        start = time.perf_counter()
        for envelope in envelopes:
            ingest(store, private_key, envelope, secrets.token_hex(8))
        return len(envelopes) / (time.perf_counter() - start)
    finally:
        store.close()


def over_http(data: DataDir, envelopes: list[bytes]) -> float:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "worktally.aggregator.cli", "serve",
                               "--data", str(data.root), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # poll until the deadline
        with httpx.Client(base_url=url, timeout=10) as client:
            start = time.perf_counter()
            for envelope in envelopes:
                r = client.post("/v1/reports", content=envelope,
                                headers={"Idempotency-Key": secrets.token_hex(8)})
                r.raise_for_status()
            return len(envelopes) / (time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait(timeout=15)


def plain_duckdb(root: Path, vectors: list[tuple[int, ...]]) -> float:
    """The floor: insert each report's values as rows, one transaction per report."""
    con = duckdb.connect(str(root / "plain.duckdb"))
    con.execute("CREATE TABLE r (report INTEGER, metric VARCHAR, value BIGINT)")
    try:
        start = time.perf_counter()
        for i, values in enumerate(vectors):
            con.execute("BEGIN")
            con.executemany("INSERT INTO r VALUES (?, ?, ?)",
                            [(i, name, v) for name, v in zip(METRIC_NAMES, values,
                                                             strict=True)])
            con.execute("COMMIT")
        return len(vectors) / (time.perf_counter() - start)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data_a, envelopes_a, vectors = prepare(base / "a", args.reports)
        data_b, envelopes_b, _ = prepare(base / "b", args.reports)
        plain = plain_duckdb(base, vectors)
        local = in_process(data_a, envelopes_a)
        http = over_http(data_b, envelopes_b)
    print(f"reports: {args.reports}")
    print(f"plain DuckDB insert : {plain:8.0f} reports/s")
    print(f"in-process ingest   : {local:8.0f} reports/s  ({plain / local:.1f}x slower than plain)")
    print(f"HTTP ingest         : {http:8.0f} reports/s  ({plain / http:.1f}x slower than plain)")


if __name__ == "__main__":
    main()
