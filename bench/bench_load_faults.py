"""Secure mode under load and faults: many clients upload over loopback HTTP to a real leader
while a real helper runs, and each aggregator is killed (SIGKILL) and restarted mid-run.

Run: python bench/bench_load_faults.py [--clients 5000] [--threads 8]. Two runs, each on a
fresh pair of `worktally-aggregator serve` processes (leader with its aggregation driver on,
helper) and a fresh secure cohort with one enrolled key per client:

- without faults: every client uploads its one report; the run ends when the leader says
  every accepted report is aggregated (nothing pending, no unfinished job);
- with faults: the same, but once a third of the reports are in, the helper is killed and
  restarted, and at two thirds the leader is. A client whose upload fails or goes
  unanswered sends the very same report again until it is accepted (the leader accepts an
  identical report idempotently), as worktally's client does.

Then both servers stop and the check is exact: the leader's and the helper's stored
aggregate shares add up to the true sum of every accepted vector, over exactly as many
reports as were accepted, and both agree on the checksum of their report ids. So every
accepted report is counted once and none is lost. Printed: reports/s of each run (accepted
reports over the time from the first upload until everything is aggregated) and the ratio
of the faulted run to the clean one. Client-side work (sharding, sealing, signing) is done
before the clock starts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.dap.batches import bucket
from worktally.aggregator.dap.keys import AGGREGATOR, config_list, load_keys
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import create_task, load_task, task_file
from worktally.aggregator.enrollment import enroll, issue_tokens
from worktally.aggregator.provisioning import init_data_dir, open_store
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.wire.dap import b64url
from worktally.client.wire.dap.aggregation import checksum_of
from worktally.client.wire.dap.client import build_report, upload_headers
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.dap.window import last_ended

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 30.0
RUN_DEADLINE_S = 900.0
DRIVER_INTERVAL_S = "0.5"
WINDOW = last_ended("quarter", dt.datetime.now(dt.UTC))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measurement(i: int) -> list[int]:
    """A valid schema-2 vector, distinct per client: flags gate their shares."""
    active, observed = int(i % 4 != 3), int(i % 5 != 4)
    return [active, (37 * i) % 1001 * active, (11 * i) % 1001 * active, observed,
            (53 * i) % 1001 * observed, (97 * i) % 5001, (13 * i) % 501, (7 * i) % 501]


@dataclass
class Server:
    """One `worktally-aggregator serve`; `start()` again after `kill()` restarts it."""

    role: str
    data: DataDir
    port: int
    home: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = {**os.environ, "WORKTALLY_HOME": str(self.home), "NO_PROXY": "127.0.0.1"}
        with (self.home / "serve.log").open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worktally.aggregator.cli", "serve", "--data",
                 str(self.data.root), "--role", self.role, "--host", "127.0.0.1",
                 "--port", str(self.port), "--driver-interval", DRIVER_INTERVAL_S],
                stdout=sink, stderr=sink, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.role} exited: "
                                   f"{(self.home / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.05)  # polling interval; the deadline bounds the wait
        raise RuntimeError(f"the {self.role} did not answer within {START_TIMEOUT_S:.0f}s")

    def kill(self) -> None:
        """A crash: SIGKILL, no shutdown hooks."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)


@dataclass
class Pair:
    leader: Server
    helper: Server
    task: TaskConfig
    admin_token: str
    uploads: list[tuple[bytes, bytes, dict[str, str]]] = field(default_factory=list)

    def stop(self) -> None:
        self.leader.stop()
        self.helper.stop()


def provision(root: Path, clients: int) -> Pair:
    """Both data dirs, the task accepted by the running helper, one enrolled key and one
    signed, sealed report per client (all before the clock starts)."""
    leader_data, helper_data = DataDir(root / "leader"), DataDir(root / "helper")
    leader_dep = init_data_dir(leader_data, ReleasePolicy(), role="leader")
    helper_dep = init_data_dir(helper_data, ReleasePolicy(), role="helper")
    helper = Server("helper", helper_data, free_port(), root / "helper-home").start()
    leader = Server("leader", leader_data, free_port(), root / "leader-home")
    store, peer = open_store(leader_data), HelperClient(timeout=HTTP_TIMEOUT_S)
    try:
        helper_hpke = peer.hpke_config(helper.url)
        task = create_task(store, leader_data, cohort="load", roster=clients, k_min=10,
                           leader_url=leader.url, helper_url=helper.url,
                           helper_hpke=helper_hpke)
        leader_hpke = config_list(load_keys(store, leader_data, AGGREGATOR))
        pair = Pair(leader, helper, task.config, leader_dep.admin_token)
        for i, token in enumerate(issue_tokens(store, "load", clients)):
            key = Ed25519PrivateKey.generate()
            client_id = enroll(store, token.token, key.public_key().public_bytes_raw()).client_id
            report_id, body = build_report(task.config, measurement(i), leader_hpke,
                                           helper_hpke, window=WINDOW)
            pair.uploads.append((report_id, body,
                                 upload_headers(client_id, key, task.task_id, body)))
        accepted = httpx.put(f"{helper.url}/v1/admin/tasks", json=task_file(task),
                             timeout=HTTP_TIMEOUT_S,
                             headers={"Authorization": f"Bearer {helper_dep.admin_token}"})
        if accepted.status_code != 201:
            raise RuntimeError(f"the helper refused the task: {accepted.text}")
    finally:
        peer.close()
        store.close()
    leader.start()
    return pair


@dataclass
class Tally:
    """What the clients saw: which reports were accepted, and how many sends it took."""

    accepted: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)
    resends: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def client_thread(pair: Pair, work: queue.Queue[int], tally: Tally, deadline: float) -> None:
    """Take clients off the queue; send each one's report until the leader accepts it."""
    url = f"{pair.leader.url}/tasks/{b64url(pair.task.task_id)}/reports"
    with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as http:
        while True:
            try:
                index = work.get_nowait()
            except queue.Empty:
                return
            _, body, headers = pair.uploads[index]
            backoff = 0.05
            while True:
                try:
                    status, text = _send(http, url, body, headers)
                except httpx.TransportError:
                    status, text = 0, "no answer"
                if status == 200:
                    with tally.lock:
                        tally.accepted.add(index)
                    break
                if 400 <= status < 500:
                    with tally.lock:
                        tally.refused[index] = f"{status} {text[:200]}"
                    break
                with tally.lock:
                    tally.resends += 1
                if time.monotonic() > deadline:
                    raise RuntimeError(f"client {index}: never accepted ({status} {text})")
                time.sleep(backoff)  # the leader is down or busy: back off, then resend
                backoff = min(backoff * 2, 1.0)


def _send(http: httpx.Client, url: str, body: bytes,
          headers: dict[str, str]) -> tuple[int, str]:
    response = http.post(url, content=body, headers=headers)
    return response.status_code, response.text


def wait_aggregated(pair: Pair, expected: int, deadline: float) -> None:
    """Poll the leader until every accepted report is in its batch and nothing waits."""
    headers = {"Authorization": f"Bearer {pair.admin_token}"}
    while True:
        try:
            batches = httpx.get(f"{pair.leader.url}/v1/admin/batches", headers=headers,
                                timeout=HTTP_TIMEOUT_S).json()
            done = [b for b in batches if b["window"] == WINDOW]
            if done and done[0]["reports"] == expected and done[0]["pending"] == 0 \
                    and done[0]["unfinished_jobs"] == 0:
                return
        except httpx.TransportError:
            pass  # a restart in progress
        if time.monotonic() > deadline:
            raise RuntimeError(f"not everything was aggregated: {batches}")
        time.sleep(0.1)  # polling interval; the deadline bounds the wait


def check_exactly_once(pair: Pair, accepted: set[int]) -> None:
    """With both servers stopped: the stored shares add up to the accepted vectors' sum."""
    buckets = []
    for server in (pair.leader, pair.helper):
        store = open_store(server.data)
        try:
            task = load_task(store, pair.task.task_id)
            with store.transaction() as con:
                buckets.append(bucket(con, task.config.vdaf(), task.task_id, WINDOW))
        finally:
            store.close()
    leader, helper = buckets
    ids = [pair.uploads[i][0] for i in sorted(accepted)]
    if not (leader.report_count == helper.report_count == len(accepted)):
        raise AssertionError(f"counts: leader {leader.report_count}, helper "
                             f"{helper.report_count}, accepted {len(accepted)}")
    if not (leader.checksum == helper.checksum == checksum_of(ids)):
        raise AssertionError("the aggregators' report-id checksums differ from the accepted")
    assert leader.agg_share is not None and helper.agg_share is not None
    total = pair.task.vdaf().unshard(None, [leader.agg_share, helper.agg_share],
                                     leader.report_count, signed=True)
    truth = [sum(col) for col in zip(*(measurement(i) for i in sorted(accepted)), strict=True)]
    if list(total) != truth:
        raise AssertionError(f"aggregate {list(total)} != true sum {truth}")


@dataclass(frozen=True)
class Result:
    accepted: int
    seconds: float
    resends: int

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def one_run(root: Path, clients: int, threads: int, faults: bool) -> Result:
    pair = provision(root, clients)
    try:
        work: queue.Queue[int] = queue.Queue()
        for i in range(clients):
            work.put(i)
        tally = Tally()
        start = time.monotonic()
        deadline = start + RUN_DEADLINE_S
        workers = [threading.Thread(target=client_thread, args=(pair, work, tally, deadline))
                   for _ in range(threads)]
        for worker in workers:
            worker.start()
        if faults:
            for server, at in ((pair.helper, clients // 3), (pair.leader, 2 * clients // 3)):
                while tally.count() < at and any(w.is_alive() for w in workers):
                    time.sleep(0.02)  # polling interval; the threads' deadline bounds it
                server.kill()
                print(f"  killed the {server.role} at {tally.count()} accepted; restarting",
                      flush=True)
                server.start()
        for worker in workers:
            worker.join(timeout=RUN_DEADLINE_S)
        if tally.refused:
            raise AssertionError(f"{len(tally.refused)} reports refused, e.g. "
                                 f"{next(iter(tally.refused.values()))}")
        wait_aggregated(pair, len(tally.accepted), deadline)
        seconds = time.monotonic() - start
        pair.stop()
        check_exactly_once(pair, tally.accepted)
        if len(tally.accepted) != clients:
            raise AssertionError(f"only {len(tally.accepted)} of {clients} accepted")
        return Result(len(tally.accepted), seconds, tally.resends)
    finally:
        pair.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    results = {}
    for faults in (False, True):
        label = "with faults" if faults else "no faults"
        print(f"{label}: provisioning {args.clients} clients ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            results[faults] = one_run(Path(tmp), args.clients, args.threads, faults)
        r = results[faults]
        print(f"{label:12}: {r.accepted} accepted, each counted exactly once (checked at "
              f"both aggregators), {r.seconds:.1f} s, {r.rate:.0f} reports/s, "
              f"{r.resends} resends", flush=True)
    print(f"ratio with faults / without: {results[True].rate / results[False].rate:.2f}")


if __name__ == "__main__":
    main()
