"""System-level canaries: strings planted in code, prompts, file and repo names never leave.

A small demo team runs through a recording TCP proxy on 127.0.0.1 in front of the real
aggregator. Every recorded byte, every decrypted report payload and the aggregator's files
are scanned for the canaries, which the test first proves were really planted.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from recording_proxy import RecordingProxy, http_requests

from worktally.aggregator.provisioning import load_private_key
from worktally.aggregator.settings import DataDir
from worktally.client.demo.aggregator_process import free_port
from worktally.client.demo.runner import DemoResult, DemoSettings, run_demo
from worktally.client.demo.scenario import Canaries
from worktally.client.wire.envelope import open_envelope

PER_COHORT = 3
GIT_TIMEOUT_S = 30


def variants(canary: str) -> list[bytes]:
    """The canary as bytes in the encodings a leak could take on the wire."""
    raw = canary.encode()
    return [raw, raw.upper(), base64.b64encode(raw), raw.hex().encode(),
            canary.encode("utf-16-le")]


def leaks(data: bytes, canaries: Canaries) -> list[str]:
    return [c for c in canaries.all() if any(v in data for v in variants(c))]


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory: pytest.TempPathFactory,
               ) -> tuple[DemoResult, Canaries, RecordingProxy]:
    workdir = tmp_path_factory.mktemp("canary-demo")
    canaries = Canaries.from_token(f"zq{secrets.token_hex(5)}")
    upstream = free_port()
    proxy = RecordingProxy(upstream)
    proxy.start()
    # Module-scoped, so monkeypatch by hand: nothing may touch the real WORKTALLY_HOME.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKTALLY_HOME", str(workdir / "test-home"))
        try:
            result = run_demo(DemoSettings(workdir=workdir, developers_per_cohort=PER_COHORT,
                                           seed=3, k_min=PER_COHORT, workers=3,
                                           canaries=canaries, client_url=proxy.url,
                                           server_port=upstream))
        finally:
            proxy.stop()
    return result, canaries, proxy


def test_canaries_were_planted_where_a_leak_would_come_from(canary_run) -> None:
    result, canaries, _ = canary_run
    developers = result.deployment.data.parent / "developers"
    repos = [p for p in developers.glob(f"*/*{canaries.repo}") if p.is_dir()]
    assert len(repos) == 2 * PER_COHORT
    transcripts = b"".join(p.read_bytes() for p in developers.rglob("*.jsonl"))
    assert canaries.prompt.encode() in transcripts
    assert canaries.ai_code.encode() in transcripts
    repo = repos[0]
    committed = subprocess.run(
        ["git", "log", "-p", "HEAD"], cwd=repo, capture_output=True,
        timeout=GIT_TIMEOUT_S, check=True).stdout
    for planted in (canaries.code, canaries.ai_code, canaries.file):
        assert planted.encode() in committed, planted


def test_no_canary_crosses_the_wire(canary_run) -> None:
    _result, canaries, proxy = canary_run
    recorded = proxy.all_bytes()
    requests = [r for c in proxy.connections for r in http_requests(bytes(c.sent))]
    lines = [line for line, _ in requests]
    # Every client enrolled and reported through the proxy, so the scan covers real traffic.
    assert sum(line.startswith("POST /v1/enroll ") for line in lines) == 2 * PER_COHORT
    assert sum(line.startswith("POST /v1/reports ") for line in lines) >= 2 * PER_COHORT
    assert all(body for line, body in requests if line.startswith("POST /v1/reports "))
    assert leaks(recorded, canaries) == []


def test_no_canary_in_decrypted_payloads(canary_run) -> None:
    result, canaries, proxy = canary_run
    data = DataDir(result.deployment.data)
    keys: dict[str, Ed25519PublicKey] = {}
    with duckdb.connect(str(data.database), read_only=True) as con:
        for client_id, public in con.execute("SELECT client_id, public_key FROM clients")\
                .fetchall():
            keys[client_id] = Ed25519PublicKey.from_public_bytes(bytes(public))
    private = load_private_key(data)
    opened = []
    for connection in proxy.connections:
        for line, body in http_requests(bytes(connection.sent)):
            if line.startswith("POST /v1/reports "):
                payload = open_envelope(body, private, keys.get)
                opened.append(payload)
                text = json.dumps(vars(payload), default=str).encode()
                assert leaks(text, canaries) == []
    assert len({p.client_id for p in opened}) == 2 * PER_COHORT


def test_no_canary_in_the_aggregator_files(canary_run) -> None:
    result, canaries, _ = canary_run
    root = result.deployment.data
    files = [p for p in root.rglob("*") if p.is_file()]
    assert data_file_names(files) >= {"aggregator.duckdb", "aggregator.x25519"}
    for path in [*files, root.parent / "aggregator-serve.log", result.dashboard]:
        assert leaks(path.read_bytes(), canaries) == [], path.name


def data_file_names(files: list[Path]) -> set[str]:
    return {p.name for p in files}
