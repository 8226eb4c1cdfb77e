"""The demo's steps in order: aggregator up, developers work and report, release, summarise.

Each step's failure becomes a `DemoStepError` naming the step; the aggregator process is
stopped whatever happens.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from worktally.client.demo import aggregator_process, team
from worktally.client.demo.aggregator_process import Deployment
from worktally.client.demo.scenario import (
    COHORTS,
    SHIPPING_COHORT,
    TOKENMAXXING_COHORT,
    Canaries,
    build_team,
)
from worktally.client.demo.verdict import Verdict, judge
from worktally.client.errors import WorktallyError
from worktally.client.wire.measurement import SECURE_METRICS, MetricKind
from worktally.client.wire.privacy import DEFAULT_RELEASE_WINDOW
from worktally.client.wire.windows import window_of

T = TypeVar("T")
# Transcripts start this long before the run, so every agent edit precedes the commit (in
# the first minutes of a window, they start at the window's start instead).
TRANSCRIPT_LEAD = dt.timedelta(minutes=3)
# Where a tokenmaxxing cohort should differ from a shipping one.
VERDICT_METRICS = ("shipped_token_share_pm",)
# How far past the window's end the aggregators' clocks are set.
CLOCK_MARGIN_S = 3600


class DemoStepError(WorktallyError):
    """A demo step failed; the message names the step and what went wrong."""


class Progress(Protocol):
    def begin(self, step: str, total: int) -> None: ...
    def advance(self, step: str) -> None: ...


class SilentProgress:
    def begin(self, step: str, total: int) -> None:
        """Nothing to show."""

    def advance(self, step: str) -> None:
        """Nothing to show."""


@dataclass(frozen=True)
class DemoSettings:
    workdir: Path
    developers_per_cohort: int = 16
    seed: int = 7
    k_min: int = 10
    workers: int = 3
    survival_days: int = 0
    canaries: Canaries | None = None
    # Where the clients reach the leader (a test may put a recording proxy in between);
    # empty means the leader's own URL, on `server_port` when given.
    client_url: str = ""
    server_port: int | None = None


@dataclass(frozen=True)
class DemoResult:
    period: str
    summary: dict[str, Any]
    review: dict[str, Any]
    dashboard: Path
    verdicts: tuple[Verdict, ...]
    wall_time_s: float
    developers: int
    deployment: Deployment = field(repr=False)
    # Per cohort and metric: the mean of the developers' true values (never sent).
    truth: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # The most ε any simulated developer spent this year (read from their own ledgers).
    epsilon_spent: float = 0.0

    @property
    def stands_out(self) -> bool:
        return any(v.metric == "shipped_token_share_pm" and v.stands_out for v in self.verdicts)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period, "developers": self.developers, "mode": "secure",
            "epsilon_per_person_per_year": self.epsilon_spent, "truth": self.truth,
            "summary": self.summary, "review": self.review,
            "dashboard": str(self.dashboard), "wall_time_s": round(self.wall_time_s, 2),
            "stands_out": self.stands_out,
            "verdicts": [v.to_json() for v in self.verdicts],
        }


# What a step may raise besides our own errors: a program that is missing (OSError), or
# output that is not what the step expected (ValueError, KeyError, e.g. from JSON).
_STEP_FAILURES = (WorktallyError, OSError, ValueError, KeyError)


def _step(name: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except _STEP_FAILURES as exc:
        raise DemoStepError(f"demo step '{name}' failed: {exc}") from exc


def _for_each(progress: Progress, step: str, items: list[Any], workers: int,
              action: Callable[[Any], T]) -> list[T]:
    """Run `action` on every item with a small thread pool; the first failure is raised."""
    progress.begin(step, len(items))

    def one(item: Any) -> T:
        out = action(item)
        progress.advance(step)
        return out

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(one, item) for item in items]
        return [future.result() for future in futures]
    finally:
        # On a failure (or Ctrl-C) the developers not started yet are not started at all.
        pool.shutdown(wait=True, cancel_futures=True)


def _true_means(machines: list[team.Machine], reports: list[dict[str, Any]]
                ) -> dict[str, dict[str, float | None]]:
    """Per cohort and metric, the mean of the developers' true (clipped) values, each over
    the people its gate admits: the simulated truth, which no aggregator ever sees."""
    by_cohort: dict[str, list[dict[str, int]]] = {}
    for machine, sent in zip(machines, reports, strict=True):
        values = {f["metric"]: int(f["value"]) for f in sent["fields"]}
        by_cohort.setdefault(machine.plan.cohort, []).append(values)
    out: dict[str, dict[str, float | None]] = {}
    for cohort, people in by_cohort.items():
        means: dict[str, float | None] = {}
        for metric in SECURE_METRICS:
            admitted = [p for p in people if metric.gate is None or p[metric.gate]]
            if metric.kind is MetricKind.FLAG:
                means[metric.name] = float(sum(p[metric.name] for p in people))
            else:
                means[metric.name] = (sum(p[metric.name] for p in admitted) / len(admitted)
                                      if admitted else None)
        out[cohort] = means
    return out


def run_demo(settings: DemoSettings, progress: Progress | None = None) -> DemoResult:
    """Run the whole demo in `settings.workdir`; raises DemoStepError naming a failed step."""
    shown = progress or SilentProgress()
    started = time.monotonic()
    n = settings.developers_per_cohort
    plans = build_team(n, settings.seed, settings.canaries)
    now = dt.datetime.now(dt.UTC)
    window = window_of(DEFAULT_RELEASE_WINDOW, now)
    # Both aggregators live just past the window's end: the demo's stand-in for waiting.
    offset = int((window.end - now).total_seconds()) + CLOCK_MARGIN_S
    deployment, helper = _step("set up the leader and the helper", lambda: (
        aggregator_process.set_up(settings.workdir, dict.fromkeys(COHORTS, n), settings.k_min,
                                  DEFAULT_RELEASE_WINDOW.value, offset, settings.server_port)))
    leader = aggregator_process.leader_server(deployment)
    try:
        _step("start the leader", leader.start)
        _step("issue personal enrollment tokens", lambda: aggregator_process.issue_tokens(
            deployment, dict.fromkeys(COHORTS, n)))
        url = settings.client_url or deployment.leader_url
        transcripts_start = max(now - TRANSCRIPT_LEAD, window.start + dt.timedelta(seconds=1))
        machines = [team.Machine(p, settings.workdir / "developers" / p.name) for p in plans]
        _step("prepare developer machines", lambda: _for_each(
            shown, "prepare machines", machines, settings.workers,
            lambda m: team.set_up(m, url, deployment.helper_url, m.plan.cohort,
                                  settings.survival_days, transcripts_start)))
        _step("developers edit, commit and sync", lambda: _for_each(
            shown, "edit, commit, sync", machines, settings.workers, team.work))
        tokens = {c: iter(ts) for c, ts in deployment.enrollment_tokens.items()}
        personal = [next(tokens[m.plan.cohort]) for m in machines]
        reports = _step("enroll and send reports", lambda: _for_each(
            shown, "enroll and report", list(zip(machines, personal, strict=True)),
            settings.workers, lambda mt: team.report(mt[0], url, mt[1], window.label)))
        shown.begin("release", len(COHORTS))
        for cohort in COHORTS:
            _step(f"release {cohort} {window.label}",
                  partial(aggregator_process.release, deployment, cohort, window.label))
            shown.advance("release")
        summary = _step("admin summary", lambda: aggregator_process.summary(deployment))
        review = _step("privacy review", lambda: aggregator_process.review(deployment))
    finally:
        leader.stop()
        helper.stop()
    dashboard = _step("write the dashboard", lambda: aggregator_process.write_dashboard(
        deployment, settings.workdir / "dashboard.html"))
    verdicts = _step("compare the cohorts", lambda: tuple(
        judge(summary, window.label, TOKENMAXXING_COHORT, SHIPPING_COHORT, metric)
        for metric in VERDICT_METRICS))
    spent = max(r["budget_spent"] for r in reports)
    return DemoResult(window.label, summary, review, dashboard, verdicts,
                      time.monotonic() - started, len(plans), deployment,
                      _true_means(machines, reports), spent)
