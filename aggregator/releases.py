"""Releases: the only way figures leave the aggregator, gated by k, contributors and holds.

Each release is stored with its time and every parameter it was checked against, which makes
the releases table the audit log the privacy officer reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from worktally.aggregator.errors import Conflict, NotFound, PolicyViolation, ReleaseRefused
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.schema import METRICS, SCHEMA_VERSION, noise_parameters

PERIOD = re.compile(r"[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])")


@dataclass(frozen=True)
class Release:
    """One released cohort-period: parameters plus per-metric (sum, per-report noise variance)."""

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
    totals: tuple[tuple[str, int, float], ...]  # (metric, noised sum, noise variance per report)


@dataclass(frozen=True)
class Hold:
    cohort: str
    period: str
    reason: str
    held_at: datetime


def check_period(period: str) -> str:
    if not PERIOD.fullmatch(period):
        raise PolicyViolation("period must be an ISO week like 2026-W48")
    return period


def release(store: AggregatorStore, cohort: str, period: str, actor: str) -> Release:
    """Release a cohort's period if every rule allows it; refuse with the reason otherwise."""
    check_period(period)
    policy = store.policy()
    with store.transaction() as con:
        row = con.execute("SELECT roster_size, epsilon, delta, mechanism FROM cohorts "
                          "WHERE name = ?", [cohort]).fetchone()
        if row is None:
            raise NotFound(f"no cohort named {cohort!r}; see `worktally-aggregator cohort list`")
        roster, epsilon, delta, mechanism = row
        if con.execute("SELECT 1 FROM releases WHERE cohort = ? AND period = ?",
                       [cohort, period]).fetchone():
            raise Conflict(f"{cohort} {period} is already released")
        hold = con.execute("SELECT reason FROM holds WHERE cohort = ? AND period = ?",
                           [cohort, period]).fetchone()
        if hold is not None:
            raise ReleaseRefused(f"{cohort} {period} is on hold by the privacy officer "
                                 f"({hold[0]}); ask them to unhold it")
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
        totals = tuple((m.name, int(sums[m.name]), noise[m.name].variance) for m in METRICS)
        next_id = con.execute("SELECT coalesce(max(release_id), 0) + 1 FROM releases").fetchone()
        release_id = int(next_id[0]) if next_id else 1
        now = datetime.now(UTC)
        con.execute("INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [release_id, cohort, period, now, actor, n, roster, policy.k_min,
                     policy.min_contributors, epsilon, delta, mechanism, SCHEMA_VERSION])
        con.executemany("INSERT INTO release_figures VALUES (?, ?, ?, ?)",
                        [(release_id, *t) for t in totals])
        _audit(con, actor, "release", cohort, period, f"n={n} roster={roster}")
    return Release(release_id, cohort, period, now, actor, n, roster, policy.k_min,
                   policy.min_contributors, epsilon, delta, mechanism, SCHEMA_VERSION, totals)


def list_releases(store: AggregatorStore) -> list[Release]:
    with store.transaction() as con:
        rows = con.execute("SELECT * FROM releases ORDER BY period, cohort").fetchall()
        figures = con.execute("SELECT release_id, metric, total, noise_variance "
                              "FROM release_figures").fetchall()
    by_release: dict[int, dict[str, tuple[str, int, float]]] = {}
    for rid, metric, total, variance in figures:
        by_release.setdefault(rid, {})[metric] = (metric, int(total), float(variance))
    out = []
    for row in rows:
        rid, cohort, period, at, by, n, roster, k_min, min_n, eps, delta, mech, schema = row
        figs = by_release.get(rid, {})
        ordered = tuple(figs[m.name] for m in METRICS if m.name in figs)
        out.append(Release(rid, cohort, period, at, by, n, roster, k_min, min_n, eps, delta,
                           mech, schema, ordered))
    return out


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
        _audit(con, "officer", "hold", cohort, period, reason)
    return Hold(cohort, period, reason, now)


def unhold(store: AggregatorStore, cohort: str, period: str) -> None:
    check_period(period)
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM holds WHERE cohort = ? AND period = ?",
                           [cohort, period]).fetchone():
            raise NotFound(f"{cohort} {period} is not on hold")
        con.execute("DELETE FROM holds WHERE cohort = ? AND period = ?", [cohort, period])
        _audit(con, "officer", "unhold", cohort, period, "")


def list_holds(store: AggregatorStore) -> list[Hold]:
    with store.transaction() as con:
        rows = con.execute("SELECT cohort, period, reason, held_at FROM holds "
                           "ORDER BY period, cohort").fetchall()
    return [Hold(*row) for row in rows]


def _audit(con: duckdb.DuckDBPyConnection, actor: str, action: str, cohort: str, period: str,
           detail: str) -> None:
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
                [datetime.now(UTC), actor, action, cohort, period, detail])
