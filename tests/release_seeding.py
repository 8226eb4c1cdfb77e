"""A deployment with several released windows for two cohorts, seeded through the store API.

The dashboard's trend and the export need more windows than a test can report in (reports
are accepted only for recent windows), so each release is made the way `releases.release`
makes one, from per-entry sums, with noise of a realistic size fixed in advance so that the
figures are known: growth's shipped token share climbs, platform's stays high, both are
informative at 24 people; one window's AI line share is pushed below 0 (clamped, marked).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from worktally.aggregator.enrollment import issue_tokens
from worktally.aggregator.estimates import estimate_metrics
from worktally.aggregator.provisioning import add_cohort, init_data_dir, open_store
from worktally.aggregator.releases import Release, list_releases, store_release
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.wire.measurement import (
    METRIC_NAMES,
    SCHEMA_VERSION,
    SECURE_METRICS,
    coordinates,
    entry_noise,
)
from worktally.client.wire.noise_model import LOCAL
from worktally.client.wire.windows import Window, last_ended

EPSILON = 4.0
TEAM = 150
COHORTS = ("growth", "platform")
# Per cohort, the shipped token share (‰) of each window, oldest first.
SHIPPED = {"growth": (300, 340, 380, 420), "platform": (660, 640, 700, 720)}
# The noise of each coordinate, in standard deviations of a local-mode team sum; the same
# small pattern everywhere, except that growth's second window gets a line-share draw far
# below its range (the clamped figure).
PATTERN = (0.4, -0.6, 0.9, -0.3, 0.2, -0.8, 0.5, -0.1)
CLAMPED = ("growth", 1, "ai_line_share_pm", -3.0)


@dataclass(frozen=True)
class Seeded:
    data: DataDir
    admin_token: str
    officer_token: str
    windows: tuple[Window, ...]
    releases: tuple[Release, ...]


def windows(count: int = 4) -> tuple[Window, ...]:
    """The last `count` ended quarters, oldest first."""
    last = last_ended("quarter", dt.datetime.now(dt.UTC))
    return tuple(last.previous(count - 1 - i) for i in range(count))


def true_sums(cohort: str, index: int) -> list[int]:
    """Per-entry sums of TEAM people: 80% with AI tokens, 70% with observed lines."""
    active, observed = TEAM * 8 // 10, TEAM * 7 // 10
    shipped = SHIPPED[cohort][index]
    by_name = {"ai_active": active, "shipped_token_share_pm": shipped * active,
               "no_context_session_share_pm": 120 * active, "lines_observed": observed,
               "ai_line_share_pm": 250 * observed, "ai_tokens_k_per_week": 400 * TEAM,
               "ai_lines_committed_per_week": 60 * TEAM,
               "ai_lines_surviving_per_week": 45 * TEAM}
    return [by_name[name] for name in METRIC_NAMES]


def draws(cohort: str, index: int) -> list[int]:
    """One draw per coordinate: the local-mode team sum's noise at PATTERN's multiples."""
    out = []
    for i, (metric, coord) in enumerate(zip(SECURE_METRICS, coordinates(EPSILON),
                                            strict=True)):
        z = PATTERN[(3 * i + 5 * index + 2 * COHORTS.index(cohort)) % len(PATTERN)]
        if (cohort, index, metric.name) == CLAMPED[:3]:
            z = CLAMPED[3]
        out.append(round(z * coord.scale * math.sqrt(2 * TEAM)))
    return out


def seed(data: DataDir, count: int = 4) -> Seeded:
    """init, two local-mode cohorts of TEAM, and a release per cohort and window; then the
    database is closed so that a server or a command can own it."""
    deployment = init_data_dir(data, ReleasePolicy(k_min=10, min_contributors=5))
    store = open_store(data)
    try:
        for cohort in COHORTS:
            add_cohort(store, cohort, TEAM, "quarter", EPSILON)
            issue_tokens(store, cohort, TEAM)
        span = windows(count)
        for index, window in enumerate(span):
            for cohort in COHORTS:
                noise = entry_noise(draws(cohort, index))
                sums = [s + e for s, e in zip(true_sums(cohort, index), noise, strict=True)]
                figures = estimate_metrics(sums, TEAM, EPSILON, LOCAL)
                released_at = window.end + dt.timedelta(days=2)
                with store.transaction() as con:
                    store_release(con, Release(
                        0, cohort, window.label, released_at, "admin", TEAM, TEAM, 10, 5,
                        EPSILON, 0.0, "discrete_laplace", SCHEMA_VERSION, figures))
        releases = tuple(list_releases(store))
    finally:
        store.close()
    return Seeded(data, deployment.admin_token, deployment.officer_token, span, releases)
