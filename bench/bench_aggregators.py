"""Secure mode's cost through the real code: the client's shard + seal per report, and each
aggregator's verify + aggregate throughput per core through its job-processing path, as a
multiple of opening the HPKE envelopes alone.

Run: python bench/bench_aggregators.py [--reports 400] [--runs 5]. Per run, in one process
and without HTTP: a leader and a helper data directory with a secure cohort (schema 2, the
design's 8 metrics); `build_report` for every report (timed: the client); the leader's
upload path stores them (timed apart: it is ingest, not aggregation); then the leader's
`Driver` runs its jobs, handing each request to the helper's `handle_job` directly instead of
over HTTP. The helper's share of
the CPU time is clocked inside that hand-off and the leader's is the rest, so each figure is
everything that aggregator does per report: open its share, decode, verify_init, combine
and check the verifier shares, verify_next, fold the output share into the batch, and its
DuckDB transactions. The baseline opens one sealed input share per report (the helper's and
the leader's, each at its own aggregator). Reports per CPU-second of this process (so per
core; DuckDB's threads count too), median of the runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.dap.driver import Driver
from worktally.aggregator.dap.jobs import handle_job
from worktally.aggregator.dap.keys import AGGREGATOR, config_list, load_keys
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import (
    HelperPolicy,
    Task,
    accept_task,
    create_task,
    task_file,
)
from worktally.aggregator.dap.upload import upload
from worktally.aggregator.enrollment import enroll, issue_tokens
from worktally.aggregator.provisioning import init_data_dir, open_store
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap.client import build_report, sign_upload
from worktally.client.wire.dap.hpke import HpkeKeyPair, input_share_info, open_sealed
from worktally.client.wire.dap.messages import InputShareAad, Role, UploadRequest
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.dap.window import last_ended

TARGET_REPORTS_PER_S = 500


def measurement(i: int) -> list[int]:
    active, observed = int(i % 4 != 3), int(i % 5 != 4)
    return [active, (37 * i) % 1001 * active, (11 * i) % 1001 * active, observed,
            (53 * i) % 1001 * observed, (97 * i) % 5001, (13 * i) % 501, (7 * i) % 501]


def cpu(work: Callable[[], None]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


class InProcessHelper(HelperClient):
    """The leader's HTTP client, short-circuited to the helper's real job handler."""

    def __init__(self, store: AggregatorStore, task: Task,
                 keys: dict[int, HpkeKeyPair]) -> None:
        super().__init__()
        self.store, self.task, self.keys, self.cpu = store, task, keys, 0.0

    def post_job(self, helper_url: str, task_id: bytes, token: str, body: bytes) -> bytes:
        start = time.process_time()
        result = handle_job(self.store, self.task, self.keys, body)
        self.cpu += time.process_time() - start
        return result.response


@dataclass
class Run:
    shard_seal_ms: float
    upload_rate: float
    leader_rate: float
    helper_rate: float
    leader_open_rate: float
    helper_open_rate: float


def one_run(root: Path, count: int) -> Run:
    leader_data, helper_data = DataDir(root / "leader"), DataDir(root / "helper")
    init_data_dir(leader_data, ReleasePolicy(), "leader")
    init_data_dir(helper_data, ReleasePolicy(), "helper")
    leader, helper = open_store(leader_data), open_store(helper_data)
    try:
        helper_keys = load_keys(helper, helper_data, AGGREGATOR)
        leader_keys = load_keys(leader, leader_data, AGGREGATOR)
        task = create_task(leader, leader_data, cohort="bench", roster=count, k_min=10,
                           leader_url="http://127.0.0.1:1", helper_url="http://127.0.0.1:2",
                           helper_hpke=config_list(helper_keys))
        helper_task = accept_task(helper, task_file(task), HelperPolicy())
        config = task.config
        window = last_ended("quarter", dt.datetime.now(dt.UTC))
        bodies: list[bytes] = []

        def client_work() -> None:
            for i in range(count):
                bodies.append(build_report(config, measurement(i), config_list(leader_keys),
                                           config_list(helper_keys), window=window)[1])

        shard_seal = cpu(client_work) / count
        tokens = issue_tokens(leader, "bench", count)
        signed = []
        for token, body in zip(tokens, bodies, strict=True):
            key = Ed25519PrivateKey.generate()
            client_id = enroll(leader, token.token, key.public_key().public_bytes_raw()).client_id
            signed.append((body, client_id, sign_upload(key, task.task_id, body)))

        def uploads() -> None:
            for body, client_id, signature in signed:
                outcome = upload(leader, task, set(leader_keys), body, client_id, signature)
                assert not outcome.errors, outcome.errors

        upload_rate = count / cpu(uploads)
        peer = InProcessHelper(helper, helper_task, helper_keys)
        driver = Driver(leader, leader_keys, peer, interval=0)
        report = None

        def aggregate() -> None:
            nonlocal report
            report = driver.run_once()

        total = cpu(aggregate)
        assert report is not None and report.aggregated == count, report
        opens = [_open_rate(config, bodies, leader_keys, Role.LEADER),
                 _open_rate(config, bodies, helper_keys, Role.HELPER)]
        return Run(shard_seal * 1000, upload_rate, count / (total - peer.cpu),
                   count / peer.cpu, *opens)
    finally:
        leader.close()
        helper.close()


def _open_rate(config: TaskConfig, bodies: list[bytes], keys: dict[int, HpkeKeyPair],
               role: Role) -> float:
    reports = [UploadRequest.decode(b).reports[0] for b in bodies]

    def work() -> None:
        for rep in reports:
            aad = InputShareAad(config.task_id, config.encoded, rep.metadata, rep.public_share)
            sealed = (rep.leader_encrypted_input_share if role is Role.LEADER
                      else rep.helper_encrypted_input_share)
            open_sealed(keys, sealed, input_share_info(role), aad.encode())

    return len(reports) / cpu(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(Path(tmp), args.reports))
    med = statistics.median
    shard = med(r.shard_seal_ms for r in runs)
    print(f"reports per run: {args.reports}, runs: {args.runs} (medians, CPU time, one core)")
    print(f"client shard + seal       : {shard:8.3f} ms/report")
    print(f"leader upload (check+store): {med(r.upload_rate for r in runs):7.0f} reports/s per "
          "core (signature, checks, receipt and sealed report in DuckDB)")
    for name, rates, opens in (("leader", [r.leader_rate for r in runs],
                                [r.leader_open_rate for r in runs]),
                               ("helper", [r.helper_rate for r in runs],
                                [r.helper_open_rate for r in runs])):
        rate, open_rate = med(rates), med(opens)
        verdict = "meets" if rate >= TARGET_REPORTS_PER_S else "MISSES"
        print(f"{name} HPKE open alone  : {open_rate:8.0f} reports/s per core")
        print(f"{name} verify+aggregate : {rate:8.0f} reports/s per core "
              f"({open_rate / rate:.1f}x the cost of the HPKE open; {verdict} the "
              f"{TARGET_REPORTS_PER_S}/s target)")


if __name__ == "__main__":
    main()
