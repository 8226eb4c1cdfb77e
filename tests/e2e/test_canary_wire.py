"""System-level canaries: strings planted in code, prompts, file and repo names never leave.

A small demo team runs through a recording TCP proxy on 127.0.0.1 in front of the real leader
(the helper runs beside it). Every recorded byte is scanned; every input share is opened with
the aggregators' own keys and scanned too; the two shares of each report are added up to show
that together they hold exactly the developer's eight clipped integers and nothing else; and
the aggregators' files are scanned. The test first proves the canaries were really planted.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

import duckdb
import pytest
from recording_proxy import RecordingProxy, http_requests

from worktally.aggregator.dap.keys import AGGREGATOR, load_keys
from worktally.aggregator.provisioning import open_store
from worktally.aggregator.settings import DataDir
from worktally.client.demo.aggregator_process import free_port
from worktally.client.demo.runner import DemoResult, DemoSettings, run_demo
from worktally.client.demo.scenario import Canaries
from worktally.client.wire import measurement
from worktally.client.wire.dap.hpke import open_input_share
from worktally.client.wire.dap.messages import InputShareAad, Role, UploadRequest
from worktally.client.wire.dap.task import TaskConfig

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


def uploads(proxy: RecordingProxy) -> list[bytes]:
    return [body for c in proxy.connections for line, body in http_requests(bytes(c.sent))
            if line.startswith("POST /tasks/") and line.split()[1].endswith("/reports")]


def test_canaries_were_planted_where_a_leak_would_come_from(canary_run) -> None:
    result, canaries, _ = canary_run
    developers = result.deployment.root / "developers"
    repos = [p for p in developers.glob(f"*/*{canaries.repo}") if p.is_dir()]
    assert len(repos) == 2 * PER_COHORT
    transcripts = b"".join(p.read_bytes() for p in developers.rglob("*.jsonl"))
    assert canaries.prompt.encode() in transcripts
    assert canaries.ai_code.encode() in transcripts
    committed = subprocess.run(
        ["git", "log", "-p", "HEAD"], cwd=repos[0], capture_output=True,
        timeout=GIT_TIMEOUT_S, check=True).stdout
    for planted in (canaries.code, canaries.ai_code, canaries.file):
        assert planted.encode() in committed, planted


def test_no_canary_crosses_the_wire(canary_run) -> None:
    _result, canaries, proxy = canary_run
    lines = [line for c in proxy.connections for line, _ in http_requests(bytes(c.sent))]
    # Every client enrolled and reported through the proxy, so the scan covers real traffic.
    assert sum(line.startswith("POST /v1/enroll ") for line in lines) == 2 * PER_COHORT
    assert len(uploads(proxy)) >= 2 * PER_COHORT
    assert leaks(proxy.all_bytes(), canaries) == []


def _true_vectors(result: DemoResult) -> list[list[int]]:
    vectors = []
    for db in (result.deployment.root / "developers").glob("*/worktally-home/*.duckdb"):
        with duckdb.connect(str(db), read_only=True) as con:
            vectors += [list(r[0]) for r in
                        con.execute("SELECT true_values FROM report_windows").fetchall()]
    return vectors


def test_opened_shares_hold_only_the_eight_integers(canary_run) -> None:
    result, canaries, proxy = canary_run
    keys = {}
    for role, data in ((Role.LEADER, result.deployment.leader_data),
                       (Role.HELPER, result.deployment.helper_data)):
        store = open_store(DataDir(data))
        try:
            keys[role] = load_keys(store, DataDir(data), AGGREGATOR)
        finally:
            store.close()
    tasks: dict[bytes, TaskConfig] = {}
    for path in result.deployment.root.glob("*.task.json"):
        file = json.loads(path.read_text())
        config = TaskConfig.decode(base64.urlsafe_b64decode(file["task_config"] + "=="))
        tasks[config.task_id] = config
    rebuilt = []
    for line, body in [(line, body) for c in proxy.connections
                       for line, body in http_requests(bytes(c.sent))
                       if line.startswith("POST /tasks/")]:
        task_id = base64.urlsafe_b64decode(line.split("/")[2] + "==")
        task = tasks[task_id]
        vdaf = task.vdaf()
        for report in UploadRequest.decode(body).reports:
            aad = InputShareAad(task.task_id, task.encoded, report.metadata, report.public_share)
            leader = open_input_share(keys[Role.LEADER], Role.LEADER, aad,
                                      report.leader_encrypted_input_share)
            helper = open_input_share(keys[Role.HELPER], Role.HELPER, aad,
                                      report.helper_encrypted_input_share)
            for plain in (leader.payload, helper.payload):
                assert leaks(plain, canaries) == []
            lead = vdaf.decode_input_share(0, leader.payload)
            help_share = vdaf.decode_input_share(1, helper.payload)
            expanded = vdaf._helper_meas_share(task.ctx, 1, help_share.share)
            encoded = [(a + b) % vdaf.flp.field.MODULUS
                       for a, b in zip(lead.meas_share, expanded, strict=True)]
            rebuilt.append(vdaf.flp.valid.truncate(encoded))
    # Together, the two shares of a report are exactly one developer's clipped vector.
    assert len(rebuilt[0]) == len(measurement.METRIC_NAMES)
    assert sorted(rebuilt) == sorted(_true_vectors(result))


def test_no_canary_in_the_aggregators_files(canary_run) -> None:
    result, canaries, _ = canary_run
    root = result.deployment.root
    files = [p for d in (result.deployment.leader_data, result.deployment.helper_data)
             for p in d.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"aggregator.duckdb"}
    for path in [*files, *root.glob("*-serve.log"), *root.glob("*.task.json"),
                 result.dashboard]:
        assert leaks(path.read_bytes(), canaries) == [], path.name


def test_the_demo_result_names_no_path_of_a_developer(canary_run) -> None:
    result, canaries, _ = canary_run
    assert leaks(repr(result.summary).encode() + repr(result.review).encode(), canaries) == []
    assert isinstance(Path(result.dashboard), Path)
