"""Secure mode through the real `worktally-aggregator` program: init with roles, serve with
--role, `cohort add --helper-url`, `task accept`, `tokens issue`, `release`, `vdaf-vectors`."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dap_harness import WINDOW, free_port, measurement, schema_names

from worktally.aggregator.dap.batches import bucket
from worktally.aggregator.dap.tasks import task_for_cohort
from worktally.aggregator.provisioning import open_store
from worktally.aggregator.settings import DataDir

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vdaf"


def cli(*args: str, check: bool = True, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", *args],
                            capture_output=True, text=True, timeout=120, cwd=cwd,
                            env=dict(os.environ))
    if check:
        assert result.returncode == 0, result.stderr
    return result


class Serving:
    """`worktally-aggregator serve` as a real subprocess."""

    def __init__(self, data: Path, port: int, *extra: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = data.with_suffix(".log")
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worktally.aggregator.cli", "serve", "--data", str(data),
                 "--port", str(port), *extra], stdout=sink, stderr=sink)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # polling interval; the deadline bounds the wait
        self.stop()
        raise RuntimeError("serve did not answer within the deadline")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture
def servers() -> Iterator[list[Serving]]:
    started: list[Serving] = []
    yield started
    for server in started:
        server.stop()


def test_the_operators_steps_end_to_end(tmp_path: Path, servers: list[Serving]) -> None:
    from dap_harness import Secure, enroll_client

    leader_dir, helper_dir = tmp_path / "leader", tmp_path / "helper"
    leader = json.loads(cli("init", "--data", str(leader_dir), "--role", "leader",
                            "--json").stdout)
    helper = json.loads(cli("init", "--data", str(helper_dir), "--role", "helper",
                            "--json").stdout)
    assert "collector_hpke_config" in leader and "collector_hpke_config" not in helper
    for key in helper_dir.glob("hpke-*.x25519"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    leader_port, helper_port = free_port(), free_port()
    wrong = Serving(helper_dir, helper_port, "--role", "leader")
    servers.append(wrong)
    assert wrong.process.wait(timeout=30) != 0
    assert "initialised as the helper" in wrong.log.read_text()

    helper_server = Serving(helper_dir, helper_port, "--role", "helper")
    servers.append(helper_server)
    task_path = tmp_path / "team.task.json"
    added = json.loads(cli("cohort", "add", "team", "--roster", "12", "--data",
                           str(leader_dir), "--helper-url", helper_server.url, "--leader-url",
                           f"http://127.0.0.1:{leader_port}", "--task-file", str(task_path),
                           "--json").stdout)
    assert stat.S_IMODE(task_path.stat().st_mode) == 0o600
    assert added["summary"]["epsilon_per_release"] == 4.0
    assert added["summary"]["window"] == "quarter" and added["summary"]["noise"] == "helper"
    helper_server.stop()

    strict = cli("task", "accept", str(task_path), "--data", str(helper_dir), "--max-epsilon",
                 "2", check=False)
    assert strict.returncode == 1 and "above this helper's maximum" in strict.stderr
    accepted = json.loads(cli("task", "accept", str(task_path), "--data", str(helper_dir),
                              "--json").stdout)
    assert accepted["task_id"] == added["task_id"]
    issued = json.loads(cli("tokens", "issue", "team", "--data", str(leader_dir), "--count",
                            "12", "--json").stdout)["tokens"]
    assert [t["slot"] for t in issued] == list(range(1, 13))
    full = cli("tokens", "issue", "team", "--data", str(leader_dir), check=False)
    assert full.returncode == 1 and "roster of 12" in full.stderr

    helper_server = Serving(helper_dir, helper_port, "--role", "helper")
    leader_server = Serving(leader_dir, leader_port, "--role", "leader", "--driver-interval",
                            "0.2")
    servers += [helper_server, leader_server]
    pair = Secure(leader_server, helper_server, None, leader["admin_token"],  # type: ignore[arg-type]
                  leader["officer_token"], helper["admin_token"],
                  [t["token"] for t in issued], tmp_path / "none.log")
    clients = [enroll_client(pair, t["token"]) for t in issued[:10]]
    vectors = [measurement(i) for i in range(10)]
    for client, vector in zip(clients, vectors, strict=True):
        _, body = client.report(vector)
        assert client.upload(leader_server.url, body).status_code == 200
    # The driver thread aggregates on its own; wait for it with a deadline.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batches = httpx.get(f"{leader_server.url}/v1/admin/batches", timeout=10,
                            headers={"Authorization": f"Bearer {leader['admin_token']}"}).json()
        if batches and batches[0]["reports"] == 10:
            break
        time.sleep(0.1)  # polling interval; the deadline bounds the wait
    assert batches[0]["reports"] == 10 and batches[0]["pending"] == 0
    leader_server.stop()

    released = json.loads(cli("release", "--data", str(leader_dir), "--cohort", "team",
                              "--period", WINDOW, "--json").stdout)
    assert released["n"] == 10
    again = cli("release", "--data", str(leader_dir), "--cohort", "team", "--period", WINDOW,
                check=False)
    assert again.returncode == 1 and "already released" in again.stderr
    summary = json.loads(cli("summary", "--data", str(leader_dir), "--json").stdout)
    row = summary["cohorts"][0]
    assert row["mode"] == "secure" and row["n"] == 10
    # Real OpenDP noise here: check the shape, not the values.
    assert set(row["metrics"]) == set(schema_names())
    for figure in row["metrics"].values():
        assert figure["mean"]["low"] <= figure["mean"]["estimate"] <= figure["mean"]["high"]
    officer = tmp_path / "officer.token"
    officer.write_text(leader["officer_token"])
    review = json.loads(cli("--token-file", str(officer), "review", "--data", str(leader_dir),
                            "--json").stdout)
    assert review["tasks"][0]["epsilon_per_person_per_year_max"] == 16.0
    assert review["releases"][0]["mode"] == "secure"
    page = tmp_path / "dash.html"
    cli("dashboard", "--data", str(leader_dir), "--out", str(page))
    assert "ai_lines_committed_per_week" in page.read_text()
    helper_server.stop()
    store = open_store(DataDir(helper_dir))
    try:
        task = task_for_cohort(store, "team")
        assert task is not None
        with store.transaction() as con:
            stored = bucket(con, task.config.vdaf(), task.task_id, WINDOW)
        assert stored.collected and stored.report_count == 10 and stored.agg_share is None
    finally:
        store.close()


def test_vdaf_vectors_reports_each_file_and_fails_on_a_bad_one(tmp_path: Path) -> None:
    good = cli("vdaf-vectors", str(FIXTURES))
    lines = good.stdout.strip().splitlines()
    assert lines[-1].endswith("passed, 0 failed") and int(lines[-1].split()[0]) >= 24
    assert len(lines) - 1 == len(list(FIXTURES.glob("*.json")))
    broken = tmp_path / "vectors"
    broken.mkdir()
    shutil.copy(FIXTURES / "Prio3Count_0.json", broken / "Prio3Count_0.json")
    doc = json.loads((FIXTURES / "Prio3Sum_0.json").read_text())
    doc["agg_result"] += 1  # a vector file that disagrees with the implementation
    (broken / "Prio3Sum_0.json").write_text(json.dumps(doc))
    bad = cli("vdaf-vectors", str(broken), check=False)
    assert bad.returncode == 1
    assert bad.stdout.strip().splitlines()[-1] == "1 passed, 1 failed"
    assert "FAIL Prio3Sum_0" in bad.stdout
