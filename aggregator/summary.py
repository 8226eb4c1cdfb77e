"""The admin's view: every released cohort, window and metric with intervals, and org totals.

Each release carries its own metrics: local mode's schema-1 fields, or a secure cohort's
schema (flags as counts of people, shares as per-mille means over the people they apply to,
volumes as means per person). Org totals are sums of local-mode team releases, so they cost
no extra budget; their variance is the sum of the teams' noise variances. Secure releases'
intervals come from exact noise quantiles, which do not add up that way, so they are shown
per team only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from worktally.aggregator.dap.model import FLAG, all_metrics
from worktally.aggregator.intervals import combine_sums
from worktally.aggregator.releases import MetricEstimate, Release, informative, sum_variance
from worktally.client.wire.schema import METRICS, METRICS_BY_NAME

ORG = "(org)"


@dataclass(frozen=True)
class MetricInfo:
    """How to show a metric: its range (`upper` None: a count of people, up to n)."""

    name: str
    unit: str
    lower: float
    upper: float | None
    description: str

    def range_for(self, n: int) -> tuple[float, float]:
        return self.lower, float(n) if self.upper is None else self.upper


def metric_info(name: str) -> MetricInfo:
    if name in METRICS_BY_NAME:
        m = METRICS_BY_NAME[name]
        return MetricInfo(name, m.unit, m.lower, m.upper, m.description)
    secure = all_metrics().get(name)
    if secure is None:
        return MetricInfo(name, "", 0, None, "")
    upper = None if secure.kind == FLAG else float(secure.bound)
    return MetricInfo(name, secure.unit, 0, upper, secure.description)


@dataclass(frozen=True)
class Figure:
    metric: str
    mean: MetricEstimate  # the released figure (a count for flags)
    total: MetricEstimate | None  # local mode: the cohort sum behind the mean


@dataclass(frozen=True)
class Row:
    """One cohort (or the org) in one window."""

    cohort: str
    period: str
    n: int
    figures: tuple[Figure, ...]
    mode: str = "local"

    def figure(self, metric: str) -> Figure | None:
        return next((f for f in self.figures if f.metric == metric), None)


def release_row(rel: Release) -> Row:
    figures = []
    for est in rel.estimates:
        total = None
        if rel.mode == "local":
            lo, hi = metric_info(est.metric).range_for(rel.n)
            total = _scaled(est, rel.n, lo * rel.n, hi * rel.n)
        figures.append(Figure(est.metric, est, total))
    return Row(rel.cohort, rel.period, rel.n, tuple(figures), rel.mode)


def _scaled(est: MetricEstimate, n: int, lower: float, upper: float) -> MetricEstimate:
    return MetricEstimate(est.metric, est.value * n, est.raw * n, est.low * n, est.high * n,
                          est.half_width * n, informative(est.low, est.high, lower / n,
                                                          upper / n) if n else False, n)


def org_rows(rows: list[Row]) -> list[Row]:
    """Per period, the sum over every released local-mode cohort (one row per period)."""
    by_period: dict[str, list[Row]] = {}
    for row in rows:
        if row.mode == "local":
            by_period.setdefault(row.period, []).append(row)
    out = []
    for period, team_rows in sorted(by_period.items()):
        n = sum(r.n for r in team_rows)
        figures = []
        for spec in METRICS:
            parts = [(f.mean.raw * r.n, sum_variance(f.mean)) for r in team_rows
                     if (f := r.figure(spec.name)) is not None]
            if len(parts) != len(team_rows):
                continue
            total = combine_sums(parts, n * spec.lower, n * spec.upper)
            mean = combine_sums([(total.value / n, total.variance / n**2)], spec.lower,
                                spec.upper)
            figures.append(Figure(spec.name, _estimate(spec.name, mean, n, spec.lower,
                                                       spec.upper),
                                  _estimate(spec.name, total, n, n * spec.lower,
                                            n * spec.upper)))
        out.append(Row(ORG, period, n, tuple(figures)))
    return out


def _estimate(name: str, e: Any, n: int, lower: float, upper: float) -> MetricEstimate:
    return MetricEstimate(name, min(max(e.value, lower), upper), e.value, e.low, e.high,
                          e.half_width, informative(e.low, e.high, lower, upper), n)


def metric_names(rows: list[Row]) -> list[str]:
    """Every metric shown, schema 1's first, then others in their releases' order."""
    seen = [m.name for m in METRICS if any(r.figure(m.name) for r in rows)]
    for row in rows:
        seen += [f.metric for f in row.figures if f.metric not in seen]
    return seen


def build_summary(releases: list[Release]) -> dict[str, Any]:
    teams = [release_row(r) for r in releases]
    names = metric_names(teams) or [m.name for m in METRICS]
    infos = [metric_info(name) for name in names]
    return {
        "confidence": 0.95,
        "metrics": [{"name": i.name, "unit": i.unit, "lower": i.lower, "upper": i.upper,
                     "description": i.description} for i in infos],
        "cohorts": [row_json(r) for r in teams],
        "org": [row_json(r) for r in org_rows(teams)],
    }


def row_json(row: Row) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for f in row.figures:
        metrics[f.metric] = {"mean": _est(f.mean)}
        if f.total is not None:
            metrics[f.metric]["sum"] = _est(f.total)
    return {"cohort": row.cohort, "period": row.period, "n": row.n, "mode": row.mode,
            "metrics": metrics}


def _est(e: MetricEstimate) -> dict[str, Any]:
    # JSON has no infinity: a half-width the data bound on one side only is null.
    half = round(e.half_width, 4) if math.isfinite(e.half_width) else None
    out = {"estimate": round(e.value, 4), "raw": round(e.raw, 4), "low": round(e.low, 4),
           "high": round(e.high, 4), "half_width": half, "informative": e.informative}
    if e.people_needed is not None:
        out["people_needed"] = e.people_needed
    return out
