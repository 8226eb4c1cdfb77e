"""Every refusal a developer's report can meet reaches them as a clear message with advice that
is true, through the real CLI against a real aggregator (local mode) or a real leader and
helper (secure mode): a window too old or not started, one already released, a report dated
ahead, a slot that already reported, a replay, a revoked or replaced key, a retired cohort,
a slot over the roster."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aggregator_harness import Deployment, Server, make_deployment, start_server
from click.testing import CliRunner
from dap_harness import Secure, provision
from report_support import seed_week

from worktally.client.cli import cli
from worktally.client.report import agent_commands
from worktally.client.report.upload import Attempt, advice
from worktally.client.store import db
from worktally.client.wire.periods import week_of
from worktally.client.wire.windows import WindowKind, last_ended, parse_window

NOW = dt.datetime.now(dt.UTC)
LAST = last_ended(WindowKind.QUARTER, NOW)
TOO_OLD = LAST.previous(3)  # the current quarter and the 2 before it take reports
CURRENT = LAST.previous(-1)
NEXT = LAST.previous(-2)

pytestmark = pytest.mark.slow


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.output)
    assert result.exit_code == 1, result.output
    return result.stderr


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed(window_label: str) -> None:
    start = parse_window(WindowKind.QUARTER, window_label).start
    con = db.connect()
    seed_week(con, week_of(start + dt.timedelta(days=15)), canary=f"c-{window_label}")
    con.close()


def become(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("WORKTALLY_HOME", str(home))


def clock_ahead(monkeypatch: pytest.MonkeyPatch, by: dt.timedelta) -> None:
    """This machine's clock runs `by` ahead (as the report commands see it)."""
    class Ahead(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Ahead:  # type: ignore[override]
            moved = dt.datetime.now(tz) + by
            return cls.fromtimestamp(moved.timestamp(), tz)

    monkeypatch.setattr(agent_commands, "dt", types.SimpleNamespace(
        datetime=Ahead, UTC=dt.UTC, timedelta=dt.timedelta))


def refused(window: str) -> str:
    """`report send` for `window` fails; its message (advice included) and its log entry."""
    message = run("report", "send", "--window", window, ok=False)
    last = run("report", "log")["uploads"][-1]
    assert last["status"] == "rejected"
    return message


# --- local mode ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Server]]:
    root = tmp_path_factory.mktemp("local-refusals")
    deployment = make_deployment(root / "data", {"team": 20, "spare": 4, "gone": 4})
    server = start_server(deployment.data, root / "home")
    yield deployment, server
    server.stop()


def admin(local: tuple[Deployment, Server], method: str, path: str, **kw: Any) -> Any:
    dep, server = local
    answer = httpx.request(method, f"{server.url}{path}", headers=bearer(dep.admin_token),
                           timeout=30, **kw)
    assert answer.status_code < 300, answer.text
    return answer.json()


def test_local_too_old_and_not_started(local_org, tmp_path, monkeypatch) -> None:
    dep, server = local_org
    become(monkeypatch, tmp_path / "a")
    run("enroll", server.url, dep.token("team"))
    seed(TOO_OLD.label)
    message = refused(TOO_OLD.label)
    assert "HTTP 409" in message and f"{TOO_OLD.label} is too old" in message
    assert "`worktally report send` (no --window)" in message
    clock_ahead(monkeypatch, dt.timedelta(days=200))
    message = refused(NEXT.label)
    assert f"{NEXT.label} has not started by the aggregator's clock" in message
    assert "date -u" in message


def test_local_released_window(local_org, tmp_path, monkeypatch) -> None:
    dep, server = local_org
    for name in ("b", "c"):
        become(monkeypatch, tmp_path / name)
        run("enroll", server.url, dep.token("spare"))
        seed(LAST.label)
        assert run("report", "send", "--window", LAST.label)["status"] == "accepted"
    admin(local_org, "POST", "/v1/admin/releases", json={"cohort": "spare",
                                                         "period": LAST.label})
    become(monkeypatch, tmp_path / "d")
    run("enroll", server.url, dep.token("spare"))
    seed(LAST.label)
    message = refused(LAST.label)
    assert f"{LAST.label} has already been released" in message
    assert "nothing more to do" in message and "resend" not in message


def test_local_revoked_key_over_roster_and_retired(local_org, tmp_path, monkeypatch) -> None:
    dep, server = local_org
    become(monkeypatch, tmp_path / "e")
    me = run("enroll", server.url, dep.token("team"))
    seed(LAST.label)
    admin(local_org, "DELETE", f"/v1/admin/clients/team/{me['slot']}")
    message = refused(LAST.label)
    assert "HTTP 403" in message and "revoked this install's enrollment" in message
    assert "signed by the old key and cannot count" in message  # local: true, no resend

    become(monkeypatch, tmp_path / "f")
    me = run("enroll", server.url, dep.tokens["gone"].pop())  # the last slot of the roster
    assert me["slot"] == 4
    previous = LAST.previous().label
    seed(previous)
    admin(local_org, "PUT", "/v1/admin/cohorts/gone/roster", json={"roster": 3})
    message = refused(previous)
    assert "above your team's current roster" in message
    admin(local_org, "PUT", "/v1/admin/cohorts/gone/roster", json={"roster": 4})
    admin(local_org, "POST", "/v1/admin/cohorts/gone/retire")
    message = refused(previous)
    assert "cohort was retired" in message


def test_local_replaced_key_and_a_slot_that_already_reported(local_org, tmp_path,
                                                             monkeypatch) -> None:
    dep, server = local_org
    become(monkeypatch, tmp_path / "g")
    me = run("enroll", server.url, dep.token("team"))
    seed(LAST.label)
    assert run("report", "send", "--window", LAST.label)["status"] == "accepted"
    (new,) = admin(local_org, "POST", "/v1/admin/tokens", json={"cohort": "team",
                                                               "slot": me["slot"]})
    # The same person on a second machine: the new key replaces the old one.
    become(monkeypatch, tmp_path / "g2")
    run("enroll", server.url, new["token"])
    seed(LAST.label)
    message = refused(LAST.label)
    assert f"your roster slot already reported for {LAST.label}" in message
    become(monkeypatch, tmp_path / "g")
    seed(LAST.previous().label)
    message = refused(LAST.previous().label)
    assert "enrolled again with a newer token" in message


def test_local_a_replayed_report_is_already_counted(local_org, tmp_path, monkeypatch) -> None:
    dep, server = local_org
    become(monkeypatch, tmp_path / "h")
    run("enroll", server.url, dep.token("team"))
    seed(LAST.label)
    run("report", "preview", "--window", LAST.label)  # local mode: the report is made now
    con = db.connect()
    (body,) = con.execute("SELECT body FROM report_windows").fetchone()
    con.close()
    # Someone on the path replays the sealed report first, under another Idempotency-Key.
    replay = httpx.post(f"{server.url}/v1/reports", content=bytes(body), timeout=30,
                        headers={"Idempotency-Key": secrets.token_hex(16),
                                 "Content-Type": "application/octet-stream"})
    assert replay.status_code == 201
    message = refused(LAST.label)
    assert "the aggregator already has this report; nothing more to do" in message


# --- secure mode -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secure_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    pair = provision(tmp_path_factory.mktemp("secure-refusals"), roster=30, k_min=2)
    yield pair
    pair.stop()


def test_secure_too_old_not_started_and_clock_ahead(secure_org, tmp_path, monkeypatch) -> None:
    become(monkeypatch, tmp_path / "s1")
    run("enroll", secure_org.leader.url, secure_org.tokens[0])
    seed(TOO_OLD.label)
    message = refused(TOO_OLD.label)
    assert "report_dropped (window_closed)" in message and "is too old" in message
    clock_ahead(monkeypatch, dt.timedelta(days=200))
    seed(NEXT.label)
    message = refused(NEXT.label)
    assert "report_too_early (window_not_started)" in message
    clock_ahead(monkeypatch, dt.timedelta(days=1))
    seed(CURRENT.label)
    message = refused(CURRENT.label)
    assert "report_too_early (clock_ahead)" in message and "fix this machine's clock" in message


def test_secure_revoked_key_then_enrolling_again_resends(secure_org, tmp_path,
                                                        monkeypatch) -> None:
    become(monkeypatch, tmp_path / "s2")
    me = run("enroll", secure_org.leader.url, secure_org.tokens[1])
    seed(LAST.label)
    gone = httpx.delete(f"{secure_org.leader.url}/v1/admin/clients/team/{me['slot']}",
                        headers=bearer(secure_org.admin), timeout=30)
    assert gone.status_code == 200, gone.text
    message = refused(LAST.label)
    assert "revoked this install's enrollment" in message
    assert "resends this report with the new key" in message
    # ... and that advice works: a new token, enroll, send: the same report is accepted.
    (new,) = httpx.post(f"{secure_org.leader.url}/v1/admin/tokens", timeout=30,
                        headers=bearer(secure_org.admin),
                        json={"cohort": "team", "slot": me["slot"]}).json()
    run("enroll", secure_org.leader.url, new["token"])
    sent = run("report", "send", "--window", LAST.label)
    assert sent["status"] == "accepted" and sent["reused"] is True


def test_secure_released_window_and_a_slot_that_already_reported(secure_org, tmp_path,
                                                                 monkeypatch) -> None:
    window = LAST.previous().label
    slots = []
    for i, name in enumerate(("s3", "s4")):
        become(monkeypatch, tmp_path / name)
        slots.append(run("enroll", secure_org.leader.url, secure_org.tokens[2 + i])["slot"])
        seed(window)
        assert run("report", "send", "--window", window)["status"] == "accepted"
    (again,) = httpx.post(f"{secure_org.leader.url}/v1/admin/tokens", timeout=30,
                          headers=bearer(secure_org.admin),
                          json={"cohort": "team", "slot": slots[0]}).json()
    become(monkeypatch, tmp_path / "s3-laptop")
    run("enroll", secure_org.leader.url, again["token"])
    seed(window)
    message = refused(window)
    assert "report_dropped (already_reported)" in message
    assert f"your roster slot already reported for {window}" in message
    released = httpx.post(f"{secure_org.leader.url}/v1/admin/releases", timeout=60,
                          headers=bearer(secure_org.admin),
                          json={"cohort": "team", "period": window})
    assert released.status_code == 201, released.text
    become(monkeypatch, tmp_path / "s5")
    run("enroll", secure_org.leader.url, secure_org.tokens[5])
    seed(window)
    message = refused(window)
    assert "batch_collected (window_released)" in message
    assert f"{window} has already been released" in message


@pytest.mark.parametrize(("reason", "words"), [
    ("replayed", "already has this report"),
    ("rejected", "rejected this report's proof"),
    ("not_enrolled", "does not know this install"),
    ("unknown_task", "no longer knows this cohort's task"),
    ("policy_changed", "policy changed"),
    ("schema_mismatch", "upgrade worktally"),
    ("invalid", "could not read this report"),
    ("outdated_config", "no longer holds the key"),
])
def test_every_other_reason_has_its_own_advice(reason: str, words: str) -> None:
    attempt = Attempt(NOW, "rejected", 409, "x", reason)
    assert words in advice(attempt, LAST.label)
    assert "resending the same report will not help. Check" not in advice(attempt)
