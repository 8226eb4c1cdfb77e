"""The yearly privacy budget: enforced on this machine, spent once per window, never raised."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from worktally.client.config import Config, ReportConfig, from_mapping
from worktally.client.errors import BudgetExceededError, ConfigError
from worktally.client.report import budget, ledger
from worktally.client.report.ledger import StoredReport
from worktally.client.store import db
from worktally.client.wire.windows import WindowKind, parse_window


@pytest.fixture
def con(worktally_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = db.connect()
    yield connection
    connection.close()


def report(label: str, epsilon: float, kind: WindowKind = WindowKind.QUARTER,
           cohort: str = "team") -> StoredReport:
    window = parse_window(kind, label)
    return StoredReport(
        cohort=cohort, window_kind=kind.value, window_label=label,
        budget_year=window.budget_year, mode="secure", schema_version=2, epsilon=epsilon,
        client_id="c", report_id=label, true_values=(1, 500, 0, 1, 200, 3, 2, 1),
        sent_values=None, body=b"sealed", created_at=dt.datetime.now(dt.UTC))


def spend(con: duckdb.DuckDBPyConnection, stored: StoredReport, cfg: Config) -> bool:
    window = parse_window(WindowKind(stored.window_kind), stored.window_label)
    _kept, reused = ledger.insert(
        con, lambda: stored, lambda: budget.check_release(con, window, stored.epsilon, cfg))
    return reused


def test_four_quarters_fit_the_default_cap_and_a_fifth_release_does_not(con) -> None:
    cfg = Config()
    for quarter in ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"):
        assert spend(con, report(quarter, 4.0), cfg) is False
    assert budget.year_budget(con, 2026, cfg).spent == pytest.approx(16.0)
    with pytest.raises(BudgetExceededError, match="only ε=0 left of your yearly cap of 16"):
        spend(con, report("2026-Q4", 4.0, cohort="another-team"), cfg)
    # Nothing was stored for the refused release; the next year starts afresh.
    assert [r.cohort for r in ledger.reports(con)] == ["team"] * 4
    assert spend(con, report("2027-Q1", 4.0), cfg) is False


def test_a_resend_of_the_same_window_spends_nothing(con) -> None:
    cfg = Config()
    assert spend(con, report("2026-Q2", 4.0), cfg) is False
    assert spend(con, report("2026-Q2", 4.0), cfg) is True
    assert budget.year_budget(con, 2026, cfg).spent == pytest.approx(4.0)


def test_the_developer_can_lower_the_cap(con) -> None:
    cfg = Config(report=dataclasses.replace(ReportConfig(), yearly_epsilon_cap=6.0))
    spend(con, report("2026-Q1", 4.0), cfg)
    with pytest.raises(BudgetExceededError, match="cap of 6"):
        spend(con, report("2026-Q2", 4.0), cfg)


def test_no_config_raises_the_cap_above_16() -> None:
    with pytest.raises(ConfigError, match="yearly_epsilon_cap"):
        from_mapping({"report": {"yearly_epsilon_cap": 17.0}})
    # And the cap in force is the smaller of the two, whatever a Config object says.
    forged = Config(report=dataclasses.replace(ReportConfig(), yearly_epsilon_cap=400.0))
    assert budget.yearly_cap(forged) == 16.0


def test_weekly_releases_use_the_iso_year(con) -> None:
    cfg = Config()
    # 2026-W53 does not exist; 2027-W01 starts on Monday 2027-01-04.
    stored = report("2027-W01", 0.25, kind=WindowKind.WEEK)
    assert stored.budget_year == 2027
    spend(con, stored, cfg)
    assert budget.year_budget(con, 2027, cfg).spent == pytest.approx(0.25)


def test_a_policy_over_the_cap_is_refused_and_one_that_runs_out_is_a_warning() -> None:
    cfg = Config()
    with pytest.raises(BudgetExceededError, match="more than your yearly cap"):
        budget.check_policy(20.0, 4, cfg)
    warning = budget.check_policy(1.0, 52, cfg)
    assert warning is not None and "covers 16 of them" in warning
    assert budget.check_policy(4.0, 4, cfg) is None
