"""Secure mode's operator actions while both aggregators run, through the CLI's client mode:
a secure cohort proposed to a running leader, its task file accepted by a running helper,
and a roster change that leaves the task (and so its id, the helper and the clients) alone
while the leader enforces the new roster."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from dap_harness import (
    WINDOW,
    Secure,
    aggregate_now,
    enroll,
    enroll_all,
    enroll_client,
    measurement,
    provision,
)

from worktally.aggregator.cli import cli

pytestmark = pytest.mark.slow


def token_file(root: Path, name: str, token: str) -> Path:
    path = root / name
    path.write_text(token)
    return path


def run(url: str, token: Path, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, ["--url", url, "--token-file", str(token), *args,
                                      "--json"])
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.output)
    assert result.exit_code == 1, result.output
    return result.output


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Secure]:
    secure = provision(tmp_path / "pair", roster=12, k_min=10)
    yield secure
    secure.stop()


def test_a_secure_cohort_is_proposed_and_accepted_while_both_run(pair: Secure,
                                                                 tmp_path: Path) -> None:
    admin = token_file(tmp_path, "admin", pair.admin)
    helper_admin = token_file(tmp_path, "helper-admin", pair.helper_admin)
    task_path = tmp_path / "out" / "ops.task.json"
    added = run(pair.leader.url, admin, "cohort", "add", "ops", "--roster", "11",
                "--helper-url", pair.helper.url, "--leader-url", pair.leader.url,
                "--task-file", str(task_path))
    assert added["mode"] == "secure" and added["task_file"] == str(task_path)
    assert stat.S_IMODE(task_path.stat().st_mode) == 0o600
    assert "task_file" not in json.dumps(added["summary"])
    strict = run(pair.helper.url, helper_admin, "task", "accept", str(task_path),
                 "--max-epsilon", "2", ok=False)
    assert "above this helper's maximum" in strict
    accepted = run(pair.helper.url, helper_admin, "task", "accept", str(task_path))
    assert accepted["task_id"] == added["task_id"]
    audit = run(pair.helper.url, helper_admin, "audit", "--action", "task-accept", "--cohort",
                "ops")["entries"]
    helper_id = hashlib.sha256(pair.helper_admin.encode()).hexdigest()[:8]
    assert [e["actor"] for e in audit] == [f"admin token {helper_id} via API"]
    # The leader's admin token means nothing at the helper.
    assert "unknown token" in run(pair.helper.url, admin, "batches", ok=False)


def test_a_roster_change_keeps_the_task_and_the_leader_enforces_it(pair: Secure,
                                                                   tmp_path: Path) -> None:
    admin = token_file(tmp_path, "admin", pair.admin)
    clients = enroll_all(pair, 10)
    before = clients[0].task.task_id
    change = run(pair.leader.url, admin, "cohort", "roster", "team", "--roster", "9")
    assert change["live_keys_over_roster"] == 1
    # Slot 10 is over the roster now: refused, saying why; the others go on with the task.
    over = clients[9]
    _, body = over.report(measurement(9))
    refused = over.upload(pair.leader.url, body)
    assert refused.status_code == 403 and refused.json()["reason"] == "over_roster"
    for i, client in enumerate(clients[:9]):
        _, body = client.report(measurement(i))
        assert client.upload(pair.leader.url, body).status_code == 200
    assert aggregate_now(pair)["aggregated"] == 9
    run(pair.leader.url, admin, "cohort", "roster", "team", "--roster", "12")
    _, body = over.report(measurement(9))
    assert over.upload(pair.leader.url, body).status_code == 200
    late = enroll_client(pair, pair.tokens[10])
    assert late.task.task_id == before, "a roster change is not a new task"
    assert aggregate_now(pair)["aggregated"] == 1
    released = run(pair.leader.url, admin, "release", "--cohort", "team", "--period", WINDOW)
    assert (released["n"], released["roster_size"]) == (10, 12)

    windows = run(pair.leader.url, admin, "windows", "list", "team")["windows"]
    (done,) = [w for w in windows if w["window"] == WINDOW]
    assert done["state"] == "released" and done["reports"] == 10


def test_a_release_over_the_roster_is_refused_by_the_leader(pair: Secure,
                                                            tmp_path: Path) -> None:
    admin = token_file(tmp_path, "admin", pair.admin)
    for i, client in enumerate(enroll_all(pair, 11)):
        _, body = client.report(measurement(i))
        assert client.upload(pair.leader.url, body).status_code == 200
    assert aggregate_now(pair)["aggregated"] == 11
    run(pair.leader.url, admin, "cohort", "roster", "team", "--roster", "10")
    refused = run(pair.leader.url, admin, "release", "--cohort", "team", "--period", WINDOW,
                  ok=False)
    assert "more than its roster of 10" in refused
    assert enroll(pair, pair.tokens[11]).status_code == 409, "slot 12 is over the roster"
    batches = httpx.get(f"{pair.helper.url}/v1/admin/batches", timeout=10,
                        headers={"Authorization": f"Bearer {pair.helper_admin}"}).json()
    assert [(b["reports"], b["collected"]) for b in batches] == [(11, False)]
