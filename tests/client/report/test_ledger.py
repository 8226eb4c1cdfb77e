"""The budget ledger: one noised vector per (cohort, period), never more ε than allowed."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from report_support import seed_week

from worktally.client.config import Config, ReportConfig
from worktally.client.errors import BudgetExceededError, WorktallyError
from worktally.client.report import ledger, weekly
from worktally.client.report.identity import Enrollment
from worktally.client.store import db
from worktally.client.wire.periods import parse_week

WEEK = parse_week("2026-W20")
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def enrollment(cohort: str = "team-a", epsilon: float = 8.0) -> Enrollment:
    return Enrollment(
        url="http://127.0.0.1:9", client_id="c-1", cohort=cohort,
        aggregator_public_key=base64.b64encode(bytes(32)).decode(), schema_version=1,
        epsilon=epsilon, delta=0.0, mechanism="discrete_laplace", period="iso-week",
        enrolled_at=0.0,
    )


def test_the_vector_is_made_once_and_reused(worktally_home: Path) -> None:
    con = db.connect()
    seed_week(con, WEEK)
    first = weekly.prepare(con, enrollment(), WEEK, Config(), now=NOW)
    again = weekly.prepare(con, enrollment(), WEEK, Config(), now=NOW)
    assert not first.reused and again.reused
    assert again.payload == first.payload
    assert again.idempotency_key == first.idempotency_key
    assert ledger.spent(con, str(WEEK)) == ledger.Budget(8.0, 0.0)
    con.close()
    # The vector is durable: a new process (connection) reads the same one back.
    con = db.connect()
    later = weekly.prepare(con, enrollment(), WEEK, Config(), now=NOW)
    assert later.payload == first.payload and later.reused


def test_the_ledger_refuses_to_overspend_a_period(worktally_home: Path) -> None:
    con = db.connect()
    weekly.prepare(con, enrollment("team-a", 5.0), WEEK, Config(), now=NOW)
    with pytest.raises(BudgetExceededError, match="already spent"):
        weekly.prepare(con, enrollment("team-b", 5.0), WEEK, Config(), now=NOW)
    assert ledger.entry(con, "team-b", str(WEEK)) is None
    # 5 + 3 fits exactly in the budget of 8; another period has its own budget.
    weekly.prepare(con, enrollment("team-c", 3.0), WEEK, Config(), now=NOW)
    weekly.prepare(con, enrollment("team-b", 5.0), WEEK.shifted(-1), Config(), now=NOW)
    assert ledger.spent(con, str(WEEK)).epsilon == pytest.approx(8.0)


def test_a_cohort_asking_more_than_the_local_budget_is_refused(worktally_home: Path) -> None:
    con = db.connect()
    strict = dataclasses.replace(Config(), report=ReportConfig(epsilon=2.0))
    with pytest.raises(BudgetExceededError, match=r"report\.epsilon=2"):
        weekly.prepare(con, enrollment(epsilon=8.0), WEEK, strict, now=NOW)
    assert ledger.entries(con) == []


def test_future_weeks_cannot_be_reported(worktally_home: Path) -> None:
    con = db.connect()
    with pytest.raises(WorktallyError, match="has not started"):
        weekly.prepare(con, enrollment(), parse_week("2026-W40"), Config(), now=NOW)
