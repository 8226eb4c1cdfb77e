"""The admin's view: every released cohort, period and metric with intervals, and org totals.

Org totals are sums of team releases, so they cost no extra budget; their variance is the sum
of the teams' noise variances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worktally.aggregator.intervals import Estimate, combine_sums, mean_estimate, sum_estimate
from worktally.aggregator.releases import Release
from worktally.client.wire.schema import METRICS, METRICS_BY_NAME

ORG = "(org)"


@dataclass(frozen=True)
class Figure:
    metric: str
    total: Estimate
    mean: Estimate


@dataclass(frozen=True)
class Row:
    """One cohort (or the org) in one period."""

    cohort: str
    period: str
    n: int
    figures: tuple[Figure, ...]


def release_row(rel: Release) -> Row:
    figures = []
    for metric, total, variance in rel.totals:
        spec = METRICS_BY_NAME[metric]
        figures.append(Figure(
            metric,
            sum_estimate(total, rel.n, variance, spec.lower, spec.upper),
            mean_estimate(total, rel.n, variance, spec.lower, spec.upper),
        ))
    return Row(rel.cohort, rel.period, rel.n, tuple(figures))


def org_rows(rows: list[Row]) -> list[Row]:
    """Per period, the sum over every released cohort (one row per period)."""
    by_period: dict[str, list[Row]] = {}
    for row in rows:
        by_period.setdefault(row.period, []).append(row)
    out = []
    for period, team_rows in sorted(by_period.items()):
        n = sum(r.n for r in team_rows)
        figures = []
        for i, spec in enumerate(METRICS):
            parts = [(r.figures[i].total.value, r.figures[i].total.variance) for r in team_rows]
            total = combine_sums(parts, n * spec.lower, n * spec.upper)
            mean = combine_sums([(total.value / n, total.variance / n**2)], spec.lower,
                                spec.upper)
            figures.append(Figure(spec.name, total, mean))
        out.append(Row(ORG, period, n, tuple(figures)))
    return out


def build_summary(releases: list[Release]) -> dict[str, Any]:
    teams = [release_row(r) for r in releases]
    return {
        "confidence": 0.95,
        "metrics": [{"name": m.name, "unit": m.unit, "lower": m.lower, "upper": m.upper,
                     "description": m.description} for m in METRICS],
        "cohorts": [row_json(r) for r in teams],
        "org": [row_json(r) for r in org_rows(teams)],
    }


def row_json(row: Row) -> dict[str, Any]:
    return {
        "cohort": row.cohort,
        "period": row.period,
        "n": row.n,
        "metrics": {
            f.metric: {"sum": _est(f.total), "mean": _est(f.mean)} for f in row.figures
        },
    }


def _est(e: Estimate) -> dict[str, float]:
    return {"estimate": round(e.value, 4), "low": round(e.low, 4), "high": round(e.high, 4)}
