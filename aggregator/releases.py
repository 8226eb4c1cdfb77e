"""Releases: the only way figures leave the aggregator, gated by k, contributors and holds.

Each release is stored with its time and every parameter it was checked against, which makes
the releases table the audit log the privacy officer reads. Both modes store the same thing
per metric: an estimate with its 95% interval (`MetricEstimate`). Local mode computes it here
from the noised sums; secure mode gets it from the collector (`dap/collector.py`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from worktally.aggregator.errors import Conflict, NotFound, PolicyViolation, ReleaseRefused
from worktally.aggregator.intervals import Z95, mean_estimate
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.schema import METRICS, METRICS_BY_NAME, SCHEMA_VERSION, noise_parameters

# A release window: an ISO week (local mode and weekly secure cohorts), a month or a quarter.
PERIOD = re.compile(r"[0-9]{4}-(W(0[1-9]|[1-4][0-9]|5[0-3])|0[1-9]|1[0-2]|Q[1-4])")
# An interval covering this much of a metric's range says little; the dashboard marks it.
INFORMATIVE_SHARE = 0.8


@dataclass(frozen=True)
class MetricEstimate:
    """One released figure: `value` is trimmed to the metric's range, `raw` is not;
    `half_width` is the 95% half-width before trimming; `n` the reports behind it."""

    metric: str
    value: float
    raw: float
    low: float
    high: float
    half_width: float
    informative: bool
    n: int
    people_needed: int | None = None  # secure mode: the team size this figure would need


@dataclass(frozen=True)
class Release:
    """One released cohort-window: its parameters and one estimate per metric."""

    release_id: int
    cohort: str
    period: str
    released_at: datetime
    released_by: str
    n: int
    roster_size: int
    k_min: int
    min_contributors: int
    epsilon: float
    delta: float
    mechanism: str
    schema_version: int
    estimates: tuple[MetricEstimate, ...]
    mode: str = "local"  # or "secure"
    noise_copies: int = 0  # secure mode: 1 (helper adds noise) or 2 (both aggregators)


@dataclass(frozen=True)
class Hold:
    cohort: str
    period: str
    reason: str
    held_at: datetime


def check_period(period: str) -> str:
    if not PERIOD.fullmatch(period):
        raise PolicyViolation("period must be a window like 2026-W48, 2026-11 or 2026-Q4")
    return period


def release(store: AggregatorStore, cohort: str, period: str, actor: str) -> Release:
    """Release a local-mode cohort's period if every rule allows it; refuse with the reason."""
    check_period(period)
    policy = store.policy()
    with store.transaction() as con:
        row = con.execute("SELECT roster_size, epsilon, delta, mechanism FROM cohorts "
                          "WHERE name = ?", [cohort]).fetchone()
        if row is None:
            raise NotFound(f"no cohort named {cohort!r}; see `worktally-aggregator cohort list`")
        roster, epsilon, delta, mechanism = row
        check_releasable(con, cohort, period)
        if roster < policy.k_min:
            raise ReleaseRefused(f"{cohort} has a roster of {roster}, under k={policy.k_min}; "
                                 "merge it into a larger cohort")
        counted = con.execute("SELECT n FROM contributions WHERE cohort = ? AND period = ?",
                              [cohort, period]).fetchone()
        n = counted[0] if counted else 0
        if n < policy.min_contributors:
            raise ReleaseRefused(f"{cohort} {period} has {n} reports, under the minimum of "
                                 f"{policy.min_contributors}; wait for more reports")
        sums = dict(con.execute("SELECT metric, total FROM sums WHERE cohort = ? AND period = ?",
                                [cohort, period]).fetchall())
        noise = noise_parameters(epsilon, delta, mechanism)
        estimates = tuple(local_estimate(m.name, int(sums[m.name]), n, noise[m.name].variance)
                          for m in METRICS)
        rel = store_release(con, Release(0, cohort, period, datetime.now(UTC), actor, n, roster,
                                         policy.k_min, policy.min_contributors, epsilon, delta,
                                         mechanism, SCHEMA_VERSION, estimates))
    return rel


def local_estimate(metric: str, total: int, n: int, per_report_variance: float) -> MetricEstimate:
    """Local mode: the mean per contributor of n independently noised reports (normal
    approximation, see intervals.py). Local mode has always shown its value untrimmed; the
    interval is trimmed to the field's range."""
    spec = METRICS_BY_NAME[metric]
    est = mean_estimate(total, n, per_report_variance, spec.lower, spec.upper)
    return MetricEstimate(metric, est.value, est.value, est.low, est.high, est.half_width,
                          informative(est.low, est.high, spec.lower, spec.upper), n)


def informative(low: float, high: float, lower: float, upper: float) -> bool:
    return upper <= lower or (high - low) < INFORMATIVE_SHARE * (upper - lower)


def check_releasable(con: duckdb.DuckDBPyConnection, cohort: str, period: str) -> None:
    """Refuse a second release of a cohort-window, or one the privacy officer holds."""
    if con.execute("SELECT 1 FROM releases WHERE cohort = ? AND period = ?",
                   [cohort, period]).fetchone():
        raise Conflict(f"{cohort} {period} is already released")
    hold = con.execute("SELECT reason FROM holds WHERE cohort = ? AND period = ?",
                       [cohort, period]).fetchone()
    if hold is not None:
        raise ReleaseRefused(f"{cohort} {period} is on hold by the privacy officer "
                             f"({hold[0]}); ask them to unhold it")


def store_release(con: duckdb.DuckDBPyConnection, rel: Release) -> Release:
    """Insert a release (its id assigned here) with its estimates, and audit it."""
    next_id = con.execute("SELECT coalesce(max(release_id), 0) + 1 FROM releases").fetchone()
    release_id = int(next_id[0]) if next_id else 1
    con.execute("INSERT INTO releases (release_id, cohort, period, released_at, released_by, n, "
                "roster_size, k_min, min_contributors, epsilon, delta, mechanism, "
                "schema_version, mode, noise_copies) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [release_id, rel.cohort, rel.period, rel.released_at, rel.released_by, rel.n,
                 rel.roster_size, rel.k_min, rel.min_contributors, rel.epsilon, rel.delta,
                 rel.mechanism, rel.schema_version, rel.mode, rel.noise_copies])
    con.executemany("INSERT INTO release_estimates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(release_id, e.metric, i, e.value, e.raw, e.low, e.high, e.half_width,
                      e.informative, e.n, e.people_needed)
                     for i, e in enumerate(rel.estimates)])
    detail = f"n={rel.n} roster={rel.roster_size} mode={rel.mode}"
    if rel.mode == "secure":
        detail += f" epsilon={rel.epsilon} noise_copies={rel.noise_copies}"
    audit(con, rel.released_by, "release", rel.cohort, rel.period, detail)
    return dataclasses.replace(rel, release_id=release_id)


def list_releases(store: AggregatorStore) -> list[Release]:
    with store.transaction() as con:
        rows = con.execute("SELECT release_id, cohort, period, released_at, released_by, n, "
                           "roster_size, k_min, min_contributors, epsilon, delta, mechanism, "
                           "schema_version, coalesce(mode, 'local'), coalesce(noise_copies, 0) "
                           "FROM releases ORDER BY period, cohort").fetchall()
        stored = con.execute("SELECT release_id, metric, value, raw, low, high, half_width, "
                             "informative, n, people_needed FROM release_estimates "
                             "ORDER BY release_id, position").fetchall()
        legacy = con.execute("SELECT release_id, metric, total, noise_variance "
                             "FROM release_figures").fetchall()
    by_release: dict[int, list[MetricEstimate]] = {}
    for rid, *fields in stored:
        by_release.setdefault(rid, []).append(MetricEstimate(*fields))
    out = []
    for row in rows:
        (rid, cohort, period, at, by, n, roster, k_min, min_n, eps, delta, mech, schema, mode,
         copies) = row
        estimates = by_release.get(rid) or _legacy_estimates(
            [f for f in legacy if f[0] == rid], n)
        out.append(Release(rid, cohort, period, at, by, n, roster, k_min, min_n, eps, delta,
                           mech, schema, tuple(estimates), mode, copies))
    return out


def _legacy_estimates(figures: Sequence[tuple[int, str, int, float]],
                      n: int) -> list[MetricEstimate]:
    """Releases stored before estimates were: recompute from their (sum, variance) pairs."""
    by_metric = {metric: (int(total), float(var)) for _, metric, total, var in figures}
    return [local_estimate(m.name, by_metric[m.name][0], n, by_metric[m.name][1])
            for m in METRICS if m.name in by_metric and n > 0]


def sum_variance(estimate: MetricEstimate) -> float:
    """Local mode: the noise variance of the cohort total behind a mean estimate."""
    return (estimate.n * estimate.half_width / Z95) ** 2


def hold(store: AggregatorStore, cohort: str, period: str, reason: str) -> Hold:
    """Block a cohort-period's release until the officer lifts the hold."""
    check_period(period)
    if not reason.strip():
        raise PolicyViolation("say why the release is held (--reason)")
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM cohorts WHERE name = ?", [cohort]).fetchone():
            raise NotFound(f"no cohort named {cohort!r}")
        if con.execute("SELECT 1 FROM releases WHERE cohort = ? AND period = ?",
                       [cohort, period]).fetchone():
            raise Conflict(f"{cohort} {period} is already released; a hold cannot undo it")
        if con.execute("SELECT 1 FROM holds WHERE cohort = ? AND period = ?",
                       [cohort, period]).fetchone():
            raise Conflict(f"{cohort} {period} is already on hold")
        now = datetime.now(UTC)
        con.execute("INSERT INTO holds VALUES (?, ?, ?, ?)", [cohort, period, reason, now])
        audit(con, "officer", "hold", cohort, period, reason)
    return Hold(cohort, period, reason, now)


def unhold(store: AggregatorStore, cohort: str, period: str) -> None:
    check_period(period)
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM holds WHERE cohort = ? AND period = ?",
                           [cohort, period]).fetchone():
            raise NotFound(f"{cohort} {period} is not on hold")
        con.execute("DELETE FROM holds WHERE cohort = ? AND period = ?", [cohort, period])
        audit(con, "officer", "unhold", cohort, period, "")


def list_holds(store: AggregatorStore) -> list[Hold]:
    with store.transaction() as con:
        rows = con.execute("SELECT cohort, period, reason, held_at FROM holds "
                           "ORDER BY period, cohort").fetchall()
    return [Hold(*row) for row in rows]


def audit(con: duckdb.DuckDBPyConnection, actor: str, action: str, cohort: str | None,
          period: str | None, detail: str) -> None:
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
                [datetime.now(UTC), actor, action, cohort, period, detail])
