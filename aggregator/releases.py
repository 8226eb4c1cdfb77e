"""Releases: the only way figures leave the aggregator, gated by k, the roster, holds and time.

Each release is stored with its time and every parameter it was checked against, which makes
the releases table the audit log the privacy officer reads. Both modes store the same thing
per metric: an estimate with its 95% interval (`estimates.MetricEstimate`). Local mode
computes it here from the per-entry sums of the clients' noised reports; secure mode gets it
from the collector (`dap/collector.py`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime

import duckdb

from worktally.aggregator import clock, local_reports
from worktally.aggregator.audit_log import audit
from worktally.aggregator.errors import Conflict, NotFound, PolicyViolation, ReleaseRefused
from worktally.aggregator.estimates import MetricEstimate, estimate_metrics
from worktally.aggregator.provisioning import find_cohort
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.errors import PeriodError
from worktally.client.wire.measurement import SCHEMA_VERSION
from worktally.client.wire.noise_model import LOCAL
from worktally.client.wire.windows import LABEL_PATTERN, Window, parse_window

PERIOD = re.compile(LABEL_PATTERN)


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


def cohort_window(kind: str, label: str) -> Window:
    """The window a label names for a cohort of this window kind, in canonical form only
    (two spellings of one window would be two sets of sums)."""
    try:
        window = parse_window(kind, label)
    except PeriodError as exc:
        raise PolicyViolation(f"{exc} (this cohort releases per {kind})") from exc
    if window.label != label:
        raise PolicyViolation(f"write the window as {window.label}, not {label!r}")
    return window


def release(store: AggregatorStore, cohort: str, period: str, actor: str) -> Release:
    """Release a local-mode cohort's window if every rule allows it; refuse with the reason."""
    check_period(period)
    policy = store.policy()
    with store.transaction() as con:
        found = find_cohort(con, cohort)
        if found is None:
            raise NotFound(f"no cohort named {cohort!r}; see `worktally-aggregator cohort list`")
        if found.mode != "local":
            raise PolicyViolation(f"{cohort} is a secure cohort; its leader releases it")
        window = cohort_window(found.window, period)
        check_releasable(con, cohort, period)
        if window.end > clock.now():
            raise ReleaseRefused(f"{cohort} {period} has not ended; it can be released from "
                                 f"{window.end.isoformat()}")
        if found.roster_size < found.k_min:
            raise ReleaseRefused(f"{cohort} has a roster of {found.roster_size}, under "
                                 f"k={found.k_min}; merge it into a larger cohort")
        n = local_reports.count(con, cohort, period)
        floor = max(found.k_min, policy.min_contributors)
        if n < floor:
            raise ReleaseRefused(f"{cohort} {period} has {n} reports, under the minimum of "
                                 f"{floor} (k={found.k_min}, min contributors="
                                 f"{policy.min_contributors}); wait for more reports")
        if n > found.roster_size:
            raise ReleaseRefused(f"{cohort} {period} has {n} reports, more than its roster of "
                                 f"{found.roster_size}; refusing")
        # The reports are summed here, in memory, for the first and only time.
        window_totals = local_reports.totals(con, store.root, cohort, period)
        figures = estimate_metrics(window_totals.sums, n, found.epsilon, LOCAL)
        stored = store_release(con, Release(
            0, cohort, period, clock.now(), actor, n, found.roster_size, found.k_min,
            policy.min_contributors, found.epsilon, found.delta, found.mechanism,
            SCHEMA_VERSION, figures))
        local_reports.forget(con, cohort, period)
    # Committed: the rows are gone; now their key, and the WAL that held them.
    local_reports.shred(store.root, cohort, period)
    store.checkpoint()
    return stored


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
    """Every release with its stored estimates (schema 1's too, which the summary leaves out:
    their metrics meant something else)."""
    with store.transaction() as con:
        rows = con.execute("SELECT release_id, cohort, period, released_at, released_by, n, "
                           "roster_size, k_min, min_contributors, epsilon, delta, mechanism, "
                           "schema_version, coalesce(mode, 'local'), coalesce(noise_copies, 0) "
                           "FROM releases ORDER BY period, cohort").fetchall()
        stored = con.execute("SELECT release_id, metric, value, raw, low, high, half_width, "
                             "informative, n, people_needed FROM release_estimates "
                             "ORDER BY release_id, position").fetchall()
    by_release: dict[int, list[MetricEstimate]] = {}
    for rid, *fields in stored:
        by_release.setdefault(rid, []).append(MetricEstimate(*fields))
    out = []
    for row in rows:
        (rid, cohort, period, at, by, n, roster, k_min, min_n, eps, delta, mech, schema, mode,
         copies) = row
        out.append(Release(rid, cohort, period, at, by, n, roster, k_min, min_n, eps, delta,
                           mech, schema, tuple(by_release.get(rid, ())), mode, copies))
    return out


def hold(store: AggregatorStore, cohort: str, period: str, reason: str, actor: str) -> Hold:
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
        now = clock.now()
        con.execute("INSERT INTO holds VALUES (?, ?, ?, ?)", [cohort, period, reason, now])
        audit(con, actor, "hold", cohort, period, reason)
    return Hold(cohort, period, reason, now)


def unhold(store: AggregatorStore, cohort: str, period: str, actor: str) -> None:
    check_period(period)
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM holds WHERE cohort = ? AND period = ?",
                           [cohort, period]).fetchone():
            raise NotFound(f"{cohort} {period} is not on hold")
        con.execute("DELETE FROM holds WHERE cohort = ? AND period = ?", [cohort, period])
        audit(con, actor, "unhold", cohort, period, "")


def list_holds(store: AggregatorStore) -> list[Hold]:
    with store.transaction() as con:
        rows = con.execute("SELECT cohort, period, reason, held_at FROM holds "
                           "ORDER BY period, cohort").fetchall()
    return [Hold(*row) for row in rows]
