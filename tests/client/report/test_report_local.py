"""The client side of local mode (the single-server fallback), through the real CLI against a
real `worktally-aggregator serve` on loopback: what the preview shows is what is sent, a
retry spends nothing, a refusal is logged with true advice, and nothing local leaves."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aggregator_harness import WINDOW, Deployment, Server, make_deployment, start_server
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from report_support import seed_week

from worktally.aggregator.provisioning import load_private_key
from worktally.client.cli import cli
from worktally.client.report.enrollment import is_enrolled, load_signing_key
from worktally.client.store import db
from worktally.client.wire import measurement
from worktally.client.wire.envelope import open_envelope
from worktally.client.wire.periods import week_of
from worktally.client.wire.windows import WindowKind, parse_window

QUARTER = parse_window(WindowKind.QUARTER, WINDOW)
CANARY = "zq-CANARY-local-3d2"


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.output)
    assert result.exit_code == 1, result.output
    return result.stderr


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Server]]:
    root = tmp_path_factory.mktemp("local-org")
    deployment = make_deployment(root / "data", {"team": 6})
    server = start_server(deployment.data, root / "home")
    yield deployment, server
    server.stop()


@pytest.fixture
def person(worktally_home: Path) -> Path:
    con = db.connect()
    seed_week(con, week_of(QUARTER.start + dt.timedelta(days=15)), canary=CANARY)
    con.close()
    return worktally_home


def stored_body() -> bytes:
    con = db.connect()
    try:
        row = con.execute("SELECT body FROM report_windows").fetchone()
    finally:
        con.close()
    assert row is not None
    return bytes(row[0])


def test_preview_is_what_send_uploads_and_a_retry_spends_nothing(org, person) -> None:
    deployment, server = org
    enrolled = run("enroll", server.url, deployment.token("team"))
    assert enrolled["mode"] == "local" and enrolled["window_kind"] == "quarter"
    shown = run("report", "preview", "--window", WINDOW)
    assert shown["mode"] == "local" and shown["budget"]["spent"] == 4.0  # the noise is fixed
    sent = run("report", "send", "--window", WINDOW)
    again = run("report", "send", "--window", WINDOW)
    assert sent["status"] == "accepted" and again["status"] == "duplicate"
    assert shown["fields"] == sent["fields"] == again["fields"]
    assert again["budget"]["spent"] == 4.0
    # What left is exactly the previewed noised vector, signed and sealed.
    key = load_private_key(deployment.data)
    payload = open_envelope(stored_body(), key, lambda _cid: load_signing_key().public_key())
    assert list(payload.values) == [f["sent"] for f in shown["fields"]]
    assert payload.schema_version == measurement.SCHEMA_VERSION and payload.period == WINDOW
    # And the true values beside it are this machine's, clipped, never sent.
    assert [f["value"] for f in shown["fields"]] != list(payload.values)


def test_nothing_from_the_local_store_leaves(org, person) -> None:
    deployment, server = org
    run("enroll", server.url, deployment.token("team"))
    run("report", "send", "--window", WINDOW)
    body = stored_body()
    assert CANARY.encode() not in body
    key = load_private_key(deployment.data)
    payload = open_envelope(body, key, lambda _cid: load_signing_key().public_key())
    assert CANARY not in json.dumps(payload.__dict__, default=str)


def test_a_refused_report_is_logged_with_advice_that_can_work(org, person) -> None:
    deployment, server = org
    enrolled = run("enroll", server.url, deployment.token("team"))
    # The admin reissues this person's slot and someone enrolls with it: this key is revoked.
    reissued = httpx.post(f"{server.url}/v1/admin/tokens", timeout=10,
                          headers={"Authorization": f"Bearer {deployment.admin_token}"},
                          json={"cohort": "team", "slot": enrolled["slot"]})
    assert reissued.status_code in (200, 201), reissued.text
    (token,) = [t["token"] for t in reissued.json()]
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert httpx.post(f"{server.url}/v1/enroll", timeout=10, json={
        "token": token, "public_key": base64.b64encode(raw).decode()}).status_code == 200
    error = run("report", "send", "--window", WINDOW, ok=False)
    assert "HTTP 403" in error and "enrolled again with a newer token" in error
    (attempt,) = run("report", "log")["uploads"]
    assert attempt["status"] == "rejected" and attempt["http_status"] == 403


def test_an_unreachable_aggregator_is_said_plainly(person) -> None:
    # Nothing listens on the discard port of this machine.
    error = run("enroll", "http://127.0.0.1:9", "token", ok=False)
    assert "could not reach the aggregator" in error
    assert not is_enrolled()


def test_enrollment_refuses_plain_http_off_this_machine(person) -> None:
    error = run("enroll", "http://aggregator.example", "token", ok=False)
    assert "is not an https URL" in error
