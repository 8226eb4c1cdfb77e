"""The client side of secure mode, through the real CLI against a real leader and helper on
loopback: enrollment checks, preview, send and resend, the yearly cap, and a release whose
figures (with the test's zero noise) are exactly the people's true means."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from dap_harness import WINDOW, Secure, provision, release
from report_support import seed_week

from worktally.client import config, paths
from worktally.client.cli import cli
from worktally.client.errors import EnrollmentError
from worktally.client.report import ledger
from worktally.client.report.enrollment import (
    enrollment_path,
    is_enrolled,
    parse_answer,
    signing_key_path,
)
from worktally.client.report.ledger import StoredReport
from worktally.client.store import db
from worktally.client.wire import measurement
from worktally.client.wire.periods import week_of
from worktally.client.wire.windows import WindowKind, parse_window

QUARTER = parse_window(WindowKind.QUARTER, WINDOW)
CANARY = "zq-CANARY-secure-71f"


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.output)
    assert result.exit_code == 1, result.output
    return result.stderr


def seed(ai_lines: int, tokens: int, window_start: dt.datetime) -> None:
    """Activity in the third week of a window, in this person's own database."""
    con = db.connect()
    seed_week(con, week_of(window_start + dt.timedelta(days=15)), canary=CANARY,
              ai_lines=ai_lines, tokens=tokens)
    con.close()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    secure = provision(tmp_path_factory.mktemp("org"), roster=20, k_min=10)
    yield secure
    secure.stop()


@pytest.fixture
def person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("WORKTALLY_HOME", str(home))
    return home


def test_preview_before_enrolling_shows_what_the_default_policy_would_send(person) -> None:
    seed(ai_lines=12, tokens=9_000, window_start=QUARTER.start)
    data = run("report", "preview", "--window", WINDOW)
    assert data["enrolled"] is False and data["mode"] == "secure"
    assert "default policy" in data["note"]
    fields = {f["metric"]: f for f in data["fields"]}
    assert list(fields) == list(measurement.METRIC_NAMES)
    assert fields["ai_active"]["value"] == 1 and fields["ai_active"]["sent"] is None
    # Previewing spends nothing.
    assert data["budget"]["spent"] == 0.0
    assert run("status")["report"]["enrolled"] is False


def test_enrollment_checks_the_task_and_takes_the_helper_key_from_the_helper(
        org: Secure, person: Path) -> None:
    answer = run("enroll", org.leader.url, org.tokens[0])
    assert answer["mode"] == "secure" and answer["slot"] == 1
    assert answer["helper_url"] == org.helper.url
    stored = json.loads(enrollment_path().read_text())
    helper_keys = httpx.get(f"{org.helper.url}/hpke_config", timeout=10).content
    import base64

    assert base64.urlsafe_b64decode(stored["helper_hpke"] + "==") == helper_keys
    for path in (signing_key_path(), enrollment_path()):
        assert stat.S_IMODE(path.stat().st_mode) == paths.FILE_MODE


def _raw_answer(org: Secure, token: str) -> dict[str, Any]:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    response = httpx.post(f"{org.leader.url}/v1/enroll", timeout=10,
                          json={"token": token, "public_key": base64.b64encode(raw).decode()})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_leader_handing_over_its_own_key_as_the_helpers_is_refused(org: Secure,
                                                                   person: Path) -> None:
    answer = _raw_answer(org, org.tokens[1])
    # The attack: the leader offers its own HPKE config as the helper's, to read both shares.
    answer["helper_hpke_configs"] = answer["leader_hpke_configs"]
    with httpx.Client(timeout=10) as client, pytest.raises(EnrollmentError,
                                                            match="does not publish"):
        parse_answer(org.leader.url, answer, config.ReportConfig(), client)
    assert not is_enrolled()


def test_a_task_that_is_not_the_one_its_id_names_is_refused(org: Secure, person: Path) -> None:
    answer = _raw_answer(org, org.tokens[2])
    other = _raw_answer(org, org.tokens[3])
    answer["task_id"] = other["task_id"][:-2] + ("AA" if not other["task_id"].endswith("AA")
                                                 else "BA")
    with httpx.Client(timeout=10) as client, pytest.raises(EnrollmentError, match="task"):
        parse_answer(org.leader.url, answer, config.ReportConfig(), client)


def test_a_helper_other_than_the_configured_one_is_refused(org: Secure, person: Path) -> None:
    config.set_value("report.helper_url", "https://helper.privacy-office.example")
    error = run("enroll", org.leader.url, org.tokens[4], ok=False)
    assert "allows only the helper" in error
    assert not is_enrolled()


def test_a_cohort_over_the_developers_limits_is_refused(org: Secure, person: Path) -> None:
    config.set_value("report.yearly_epsilon_cap", 3.0)
    error = run("enroll", org.leader.url, org.tokens[5], ok=False)
    assert "more than your yearly cap of 3" in error
    assert not is_enrolled()


def test_the_yearly_cap_keeps_this_machine_out_of_a_release_saying_why(
        org: Secure, person: Path) -> None:
    config.set_value("report.yearly_epsilon_cap", 6.0)
    enrolled = run("enroll", org.leader.url, org.tokens[6])
    assert "covers 1 of them" in enrolled["warning"]
    seed(5, 1_000, QUARTER.start)
    # Earlier in the same budget year this machine took part in another cohort's release.
    con = db.connect()
    ledger.insert(con, lambda: StoredReport(
        cohort="another-team", window_kind="quarter", window_label=WINDOW,
        budget_year=QUARTER.budget_year, mode="secure", schema_version=2, epsilon=4.0,
        client_id="c", report_id="r", true_values=(0,) * 8, sent_values=None, body=b"x",
        created_at=dt.datetime.now(dt.UTC)), lambda: None)
    con.close()
    error = run("report", "send", "--window", WINDOW, ok=False)
    assert "only ε=2 left of your yearly cap of 6" in error
    assert [r["cohort"] for r in run("report", "log")["reports"]] == ["another-team"]
    assert run("status")["report"]["budget"]["spent"] == 4.0


def test_people_send_and_the_release_is_their_true_means(org: Secure, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    people = []
    for i in range(10):
        home = tmp_path / f"person-{i}"
        monkeypatch.setenv("WORKTALLY_HOME", str(home))
        seed(ai_lines=5 + 3 * i, tokens=2_000 * (i + 1), window_start=QUARTER.start)
        run("enroll", org.leader.url, org.tokens[7 + i])
        sent = run("report", "send", "--window", WINDOW)
        assert sent["status"] == "accepted" and sent["mode"] == "secure"
        assert all(f["sent"] is None for f in sent["fields"])
        again = run("report", "send", "--window", WINDOW)
        assert again["reused"] is True and again["report_id"] == sent["report_id"]
        assert again["budget"]["spent"] == sent["budget"]["spent"] == 4.0
        people.append({f["metric"]: f["value"] for f in sent["fields"]})
        assert CANARY.encode() not in stored_body()
    released = release(org)
    assert released.status_code in (200, 201), released.text
    summary = httpx.get(f"{org.leader.url}/v1/admin/summary", timeout=30,
                        headers={"Authorization": f"Bearer {org.admin}"}).json()
    (row,) = [r for r in summary["cohorts"] if r["period"] == WINDOW]
    assert row["n"] == 10 and row["mode"] == "secure"
    figures = {name: fig["mean"] for name, fig in row["metrics"].items()}
    for metric in measurement.SECURE_METRICS:
        admitted = [p for p in people if metric.gate is None or p[metric.gate]]
        if metric.kind is measurement.MetricKind.FLAG:
            want = sum(p[metric.name] for p in people)
        else:
            want = sum(p[metric.name] for p in admitted) / len(admitted)
        assert figures[metric.name]["raw"] == pytest.approx(want, abs=1e-6), metric.name


def stored_body() -> bytes:
    """The bytes that left for this person's report, straight from their ledger."""
    con = db.connect()
    try:
        row = con.execute("SELECT body FROM report_windows").fetchone()
    finally:
        con.close()
    assert row is not None
    return bytes(row[0])


def test_budget_status_is_shown(person: Path) -> None:
    data = run("status")["report"]["budget"]
    assert data == {"year": dt.datetime.now(dt.UTC).year, "cap": 16.0, "spent": 0.0,
                    "left": 16.0}
