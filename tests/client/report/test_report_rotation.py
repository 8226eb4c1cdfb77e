"""The client's side of HPKE key rotation, through the real CLI against a real leader and
helper: a new report is sealed to each aggregator's newest key, fetched from the aggregator
itself; and a stored report whose key the leader no longer holds (DAP's outdated_config) is
sealed again to the current keys and accepted, spending nothing new."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dap_harness import WINDOW, Secure, aggregate_now, provision
from report_support import seed_week

from worktally.aggregator.dap.keys import rotate
from worktally.aggregator.provisioning import open_store
from worktally.client.cli import cli
from worktally.client.cli.reporting import run_request
from worktally.client.store import db
from worktally.client.wire.dap.messages import Report, UploadRequest
from worktally.client.wire.periods import week_of
from worktally.client.wire.windows import parse_window

pytestmark = pytest.mark.slow


def client(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Secure]:
    secure = provision(tmp_path / "pair", roster=16, k_min=10)
    yield secure
    secure.stop()


@pytest.fixture
def person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "dev"))


def seed() -> None:
    con = db.connect()
    seed_week(con, week_of(parse_window("quarter", WINDOW).start + dt.timedelta(days=15)))
    con.close()


def sealed_to(body_hex: str) -> tuple[int, int]:
    """The config ids a stored report's two shares are sealed to (leader's, helper's)."""
    (report,) = UploadRequest.decode(bytes.fromhex(body_hex)).reports
    assert isinstance(report, Report)
    return (report.leader_encrypted_input_share.config_id,
            report.helper_encrypted_input_share.config_id)


def _rotate_far_ahead(pair: Secure, which: str) -> tuple[int, ...]:
    server = pair.leader if which == "leader" else pair.helper
    server.stop()
    store = open_store(server.data)
    now = dt.datetime.now(dt.UTC)
    try:
        rotate(store, server.data, now + dt.timedelta(days=40))  # key 2; key 1 retires
        # Over a year on, every window key 1 could have sealed for is closed: it goes.
        gone = rotate(store, server.data, now + dt.timedelta(days=440))
    finally:
        store.close()
    server.start()
    return gone.deleted


def test_a_new_report_is_sealed_to_each_aggregators_newest_key(pair: Secure,
                                                               person: None) -> None:
    client("enroll", pair.leader.url, pair.tokens[0])
    seed()
    # Both aggregators move to a new key after this install enrolled.
    _rotate_far_ahead(pair, "helper")
    _rotate_far_ahead(pair, "leader")
    made = run_request({"cmd": "report_prepare", "window": WINDOW, "with_body": True})
    assert sealed_to(made["body_hex"]) == (3, 3)
    assert client("report", "send", "--window", WINDOW)["status"] == "accepted"
    assert aggregate_now(pair)["aggregated"] == 1


def test_a_stored_report_whose_key_is_gone_is_sealed_again(pair: Secure,
                                                            person: None) -> None:
    client("enroll", pair.leader.url, pair.tokens[0])
    seed()
    made = run_request({"cmd": "report_prepare", "window": WINDOW, "with_body": True})
    assert sealed_to(made["body_hex"]) == (1, 1)
    assert 1 in _rotate_far_ahead(pair, "leader")  # the leader no longer has key 1
    sent = client("report", "send", "--window", WINDOW)
    assert sent["status"] == "accepted" and sent["report_id"] != made["report_id"]
    uploads = client("report", "log")["uploads"]
    assert [u["status"] for u in uploads] == ["rejected", "accepted"]
    assert "outdated_config" in uploads[0]["detail"]
    assert sent["budget"]["spent"] == made["budget"]["spent"], "sealing again spends nothing"
    assert aggregate_now(pair)["aggregated"] == 1
