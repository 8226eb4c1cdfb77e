"""The admin's view: every released cohort and window, one figure per metric of report schema 2
with its 95% interval, the same for both modes.

Flags are counts of people, shares per-mille means over the people in their gate, volumes
means per person. Releases of the retired schema 1 stay in the releases list and the privacy
review, but not here: their metrics meant something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click

from worktally.aggregator.estimates import MetricEstimate
from worktally.aggregator.releases import Release
from worktally.client.wire.display import CLAMP_LEGEND, GREY_LEGEND, Figure
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
    release_id: int = 0
    released_at: datetime | None = None
    epsilon: float = 0.0
    noise_copies: int = 0

    def figure(self, metric: str) -> MetricEstimate | None:
        return next((f for f in self.figures if f.metric == metric), None)


def release_row(rel: Release) -> Row:
    return Row(rel.cohort, rel.period, rel.n, rel.estimates, rel.mode, rel.release_id,
               rel.released_at, rel.epsilon, rel.noise_copies)


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
    # "mean" names the released figure of every kind (for a flag, the count of people); its
    # fields follow the display rule (`client/wire/display.py`).
    return {"cohort": row.cohort, "period": row.period, "n": row.n, "mode": row.mode,
            "release_id": row.release_id,
            "released_at": row.released_at.isoformat() if row.released_at else None,
            "epsilon": row.epsilon, "noise_copies": row.noise_copies,
            "metrics": {f.metric: {"mean": f.figure().to_json()} for f in row.figures}}


def summary_text(summary: dict[str, Any]) -> str:
    """The summary as the CLI prints it: per cohort and window, each metric's shown figure
    with its note; an uninformative figure is dimmed on a terminal."""
    units = {m["name"]: m["unit"] for m in summary["metrics"]}
    lines = []
    for row in summary["cohorts"]:
        lines.append(f"{row['period']} {row['cohort']} ({row['mode']}, n={row['n']}, "
                     f"release #{row['release_id']})")
        for name, fig in row["metrics"].items():
            shown = Figure.from_json(fig["mean"])
            label = f"{name} ({units.get(name, '')})"
            line = f"  {label:52} {shown.value_text:>8} {shown.interval_text:18} {shown.note}"
            lines.append(click.style(line.rstrip(), dim=True) if not shown.informative
                         else line.rstrip())
    if not lines:
        return "nothing released yet"
    return "\n".join([*lines, "", f"95% intervals. {CLAMP_LEGEND}; {GREY_LEGEND}."])
