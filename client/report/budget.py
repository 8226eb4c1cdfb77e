"""The yearly privacy budget, enforced on this machine.

Each release a person takes part in spends the cohort's ε per release, once per window (a
resend spends nothing). The ε of a budget year (the calendar year a window starts in; the ISO
year for weeks) may not exceed the yearly cap: 16 by default, lower if the developer says
so in config.toml, and never higher whatever an aggregator asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from worktally.client.config import Config
from worktally.client.errors import BudgetExceededError
from worktally.client.wire.privacy import YEARLY_EPSILON_CAP
from worktally.client.wire.windows import Window

Connection = duckdb.DuckDBPyConnection
# Budgets are floats summed over releases; this slack only absorbs rounding.
BUDGET_SLACK = 1e-9


@dataclass(frozen=True)
class YearBudget:
    year: int
    cap: float
    spent: float

    @property
    def left(self) -> float:
        return max(0.0, self.cap - self.spent)

    def to_json(self) -> dict[str, float | int]:
        return {"year": self.year, "cap": self.cap, "spent": round(self.spent, 9),
                "left": round(self.left, 9)}


def yearly_cap(cfg: Config) -> float:
    """The developer's cap, which can only lower the built-in one."""
    return min(cfg.report.yearly_epsilon_cap, YEARLY_EPSILON_CAP)


def spent_in(con: Connection, year: int) -> float:
    """ε already spent in `year`: every stored report of schema v2, and the weekly reports of
    the earlier local-only schema (one ISO week each)."""
    row = con.execute(
        "SELECT coalesce(sum(epsilon), 0) FROM report_windows WHERE budget_year = ?", [year]
    ).fetchone()
    legacy = con.execute(
        "SELECT coalesce(sum(epsilon), 0) FROM report_ledger "
        "WHERE CAST(substr(period, 1, 4) AS INTEGER) = ?", [year]
    ).fetchone()
    return float(row[0] if row else 0) + float(legacy[0] if legacy else 0)


def year_budget(con: Connection, year: int, cfg: Config) -> YearBudget:
    return YearBudget(year, yearly_cap(cfg), spent_in(con, year))


def check_release(con: Connection, window: Window, epsilon: float, cfg: Config) -> YearBudget:
    """Refuse, saying why, a release whose ε would take the year past the cap."""
    budget = year_budget(con, window.budget_year, cfg)
    if budget.spent + epsilon > budget.cap + BUDGET_SLACK:
        raise BudgetExceededError(
            f"taking part in {window.label} would spend ε={epsilon:g}, but {window.budget_year} "
            f"has only ε={budget.left:g} left of your yearly cap of {budget.cap:g} "
            f"(ε={budget.spent:g} spent); nothing was sent. The cap protects you; your cohort "
            "gets its figures from the others."
        )
    return budget


def check_policy(epsilon_release: float, windows_per_year: int, cfg: Config) -> str | None:
    """At enrollment: refuse a release that alone exceeds the cap; warn when a full year of
    releases would, since the client will then sit out the year's last windows."""
    cap = yearly_cap(cfg)
    if epsilon_release > cap + BUDGET_SLACK:
        raise BudgetExceededError(
            f"the cohort spends ε={epsilon_release:g} per release, more than your yearly cap "
            f"of {cap:g}; ask your privacy officer for a cohort within it"
        )
    if epsilon_release * windows_per_year > cap + BUDGET_SLACK:
        covered = int((cap + BUDGET_SLACK) // epsilon_release)
        return (f"the cohort spends ε={epsilon_release:g} per release, {windows_per_year} "
                f"releases a year; your cap of {cap:g} covers {covered} of them, and this "
                "machine will sit out the rest of each year")
    return None
