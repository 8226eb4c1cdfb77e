"""The admin's view: every released cohort and window, one figure per metric of report schema 2
with its 95% interval, the same for both modes.

Flags are counts of people, shares per-mille means over the people in their gate, volumes
means per person. Releases of the retired schema 1 stay in the releases list and the privacy
review, but not here: their metrics meant something else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from worktally.aggregator.estimates import MetricEstimate
from worktally.aggregator.releases import Release
from worktally.client.wire.measurement import (
    METRICS_BY_NAME,
    SCHEMA_VERSION,
    SECURE_METRICS,
    MetricKind,
)


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
    metric = METRICS_BY_NAME[name]
    upper = None if metric.kind is MetricKind.FLAG else float(metric.bound)
    return MetricInfo(name, metric.unit, 0, upper, metric.description)


METRIC_INFOS = tuple(metric_info(m.name) for m in SECURE_METRICS)


@dataclass(frozen=True)
class Row:
    """One cohort in one window: its released figures, in schema order."""

    cohort: str
    period: str
    n: int
    figures: tuple[MetricEstimate, ...]
    mode: str = "local"

    def figure(self, metric: str) -> MetricEstimate | None:
        return next((f for f in self.figures if f.metric == metric), None)


def release_row(rel: Release) -> Row:
    return Row(rel.cohort, rel.period, rel.n, rel.estimates, rel.mode)


def current_rows(releases: list[Release]) -> list[Row]:
    """The rows of releases made with the current report schema."""
    return [release_row(r) for r in releases if r.schema_version == SCHEMA_VERSION]


def build_summary(releases: list[Release]) -> dict[str, Any]:
    return {
        "confidence": 0.95,
        "schema_version": SCHEMA_VERSION,
        "metrics": [{"name": i.name, "unit": i.unit, "lower": i.lower, "upper": i.upper,
                     "description": i.description} for i in METRIC_INFOS],
        "cohorts": [row_json(r) for r in current_rows(releases)],
    }


def row_json(row: Row) -> dict[str, Any]:
    # "mean" names the released figure of every kind (for a flag, the count of people).
    return {"cohort": row.cohort, "period": row.period, "n": row.n, "mode": row.mode,
            "metrics": {f.metric: {"mean": _est(f)} for f in row.figures}}


def _est(e: MetricEstimate) -> dict[str, Any]:
    # JSON has no infinity: a half-width the data bound on one side only is null.
    half = round(e.half_width, 4) if math.isfinite(e.half_width) else None
    out = {"estimate": round(e.value, 4), "raw": round(e.raw, 4), "low": round(e.low, 4),
           "high": round(e.high, 4), "half_width": half, "informative": e.informative}
    if e.people_needed is not None:
        out["people_needed"] = e.people_needed
    return out
