"""Enroll, preview and send against a real HTTP server on 127.0.0.1, through the real CLI."""

from __future__ import annotations

import dataclasses
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from report_server import Recorder, recording_aggregator
from report_support import seed_week

from worktally.client import paths
from worktally.client.cli import cli
from worktally.client.cli.reporting import run_request
from worktally.client.errors import UploadError
from worktally.client.report import upload
from worktally.client.report.identity import enrollment_path, signing_key_path
from worktally.client.store import db
from worktally.client.wire.envelope import ReportPayload, open_envelope
from worktally.client.wire.periods import parse_week
from worktally.client.wire.schema import METRIC_NAMES

WEEK = "2026-W20"
CANARY = "zq-CANARY-5ec7"


def run_cli(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def opened(rec: Recorder, body: bytes) -> ReportPayload:
    key = Ed25519PublicKey.from_public_bytes(rec.client_public_key)
    return open_envelope(body, rec.private_key, lambda cid: key if cid == "client-0001" else None)


@pytest.fixture
def enrolled(worktally_home: Path) -> Iterator[Recorder]:
    con = db.connect()
    seed_week(con, parse_week(WEEK), canary=CANARY)
    con.close()
    with recording_aggregator() as rec:
        answer = run_cli("enroll", rec.url, "one-time-token", "--json")
        assert answer["cohort"] == "team-a" and answer["client_id"] == "client-0001"
        yield rec


def test_enrollment_files_are_private(enrolled: Recorder) -> None:
    for path in (signing_key_path(), enrollment_path()):
        assert stat.S_IMODE(path.stat().st_mode) == paths.FILE_MODE
    assert json.loads(enrolled.enroll_bodies[0])["token"] == "one-time-token"


def test_preview_is_exactly_what_send_uploads_and_retries_spend_once(
        enrolled: Recorder) -> None:
    preview = run_cli("report", "preview", "--week", WEEK, "--json")
    values = tuple(preview["payload"]["values"][n] for n in METRIC_NAMES)
    assert preview["spent_this_period"]["epsilon"] == pytest.approx(8.0)

    # Two overloaded answers, then acceptance: three POSTs of the same report.
    enrolled.scripted = [503, 503]
    sent = upload.send(run_request, WEEK, backoff_s=0.01)
    assert sent["status"] == "accepted" and sent["attempts"] == 3
    keys = {key for _, key in enrolled.reports}
    assert keys == {preview["idempotency_key"]}
    payloads = [opened(enrolled, body) for body, _ in enrolled.reports]
    assert {p.values for p in payloads} == {values}
    assert {p.nonce for p in payloads} == {preview["payload"]["nonce"]}
    assert payloads[0].epsilon == 8.0 and payloads[0].period == WEEK

    # A later resend through the CLI: the same vector, a duplicate for the aggregator.
    again = run_cli("report", "send", "--week", WEEK, "--json")
    assert again["status"] == "duplicate"
    # Every upload, retries and the resend, carried the very same sealed bytes.
    assert len({body for body, _ in enrolled.reports}) == 1
    assert opened(enrolled, enrolled.reports[-1][0]).values == values
    assert again["spent_this_period"]["epsilon"] == pytest.approx(8.0)

    log = run_cli("report", "log", "--json")
    assert [u["status"] for u in log["uploads"]] == ["failed", "failed", "accepted", "duplicate"]
    assert all(tuple(u["values"]) == values for u in log["uploads"])
    assert len(log["ledger"]) == 1 and log["ledger"][0]["accepted_at"] is not None


def test_a_refused_report_is_logged_and_reported(enrolled: Recorder) -> None:
    enrolled.scripted = [400]
    with pytest.raises(UploadError, match="HTTP 400"):
        upload.send(run_request, WEEK, backoff_s=0.01)
    assert len(enrolled.reports) == 1
    log = run_cli("report", "log", "--json")
    assert [u["status"] for u in log["uploads"]] == ["rejected"]
    assert log["uploads"][0]["detail"] == "scripted 400"


def test_no_canary_from_the_local_store_leaves(enrolled: Recorder) -> None:
    run_cli("report", "send", "--week", WEEK, "--json")
    sent = b"".join(enrolled.enroll_bodies) + b"".join(body for body, _ in enrolled.reports)
    payload = opened(enrolled, enrolled.reports[0][0])
    clear = json.dumps(dataclasses.asdict(payload))
    for needle in (CANARY, CANARY.lower(), CANARY.upper()):
        assert needle.encode() not in sent
        assert needle not in clear
    # The canaries are in the local store: the scan would have found them had they leaked.
    con = db.connect()
    row = con.execute("SELECT count(*) FROM edit_lines WHERE repo_id LIKE ?",
                      [f"%{CANARY}%"]).fetchone()
    assert row is not None and row[0] > 0


def test_enrollment_refuses_a_greedy_cohort_and_plain_http(worktally_home: Path) -> None:
    with recording_aggregator() as rec:
        rec.epsilon = 20.0
        result = CliRunner().invoke(cli, ["enroll", rec.url, "tok"])
        assert result.exit_code == 1
        assert "asks for ε=20" in result.output
    assert not enrollment_path().exists() and not signing_key_path().exists()
    result = CliRunner().invoke(cli, ["enroll", "http://aggregator.example.com", "tok"])
    assert result.exit_code == 1 and "https" in result.output


def test_config_guards_refuse_another_cohort(worktally_home: Path) -> None:
    from worktally.client import config

    config.set_value("report.cohort", "team-z")
    with recording_aggregator() as rec:
        result = CliRunner().invoke(cli, ["enroll", rec.url, "tok"])
    assert result.exit_code == 1 and "report.cohort is team-z" in result.output
    assert not enrollment_path().exists()


def test_an_unreachable_aggregator_keeps_the_report_for_later(worktally_home: Path) -> None:
    with recording_aggregator() as rec:
        run_cli("enroll", rec.url, "tok", "--json")
    # The server is gone: every attempt fails, each is logged, the vector stays stored.
    with pytest.raises(UploadError, match="again later"):
        upload.send(run_request, WEEK, max_attempts=2, backoff_s=0.01)
    log = run_cli("report", "log", "--json")
    assert [u["status"] for u in log["uploads"]] == ["failed", "failed"]
    assert len(log["ledger"]) == 1 and log["ledger"][0]["accepted_at"] is None
    assert tuple(log["uploads"][0]["values"]) == tuple(log["ledger"][0]["values"])
