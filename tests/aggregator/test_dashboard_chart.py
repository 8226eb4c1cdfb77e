"""Dashboard charts keep every dot and bar inside the SVG, even for a clipped interval."""

from __future__ import annotations

import re

from worktally.aggregator.dashboard import BOTTOM, HEIGHT, TOP, mean_chart
from worktally.aggregator.releases import MetricEstimate
from worktally.aggregator.summary import Figure, Row, metric_info
from worktally.client.wire.schema import METRICS


def row(cohort: str, value: float, low: float, high: float) -> Row:
    figures = tuple(Figure(m.name, MetricEstimate(m.name, value, value, low, high, 19.6, True,
                                                  12), None) for m in METRICS)
    return Row(cohort=cohort, period="2026-W48", n=12, figures=figures)


def test_an_estimate_outside_its_clipped_interval_stays_in_the_chart() -> None:
    # A noisy mean of -40 with its interval clipped to the metric's lower bound 0.
    rows = [row("growth", -40.0, 0.0, 120.0), row("platform", 1060.0, 800.0, 1000.0)]
    svg = mean_chart(metric_info(METRICS[0].name), rows, {"growth": "#111", "platform": "#222"})
    ys = [float(v) for v in re.findall(r'c?y[12]?="(-?[0-9.]+)"', svg)]
    assert len(ys) >= 8
    assert all(0 <= y <= HEIGHT for y in ys), ys
    dots = [float(v) for v in re.findall(r'cy="(-?[0-9.]+)"', svg)]
    assert all(TOP - 0.05 <= y <= HEIGHT - BOTTOM + 0.05 for y in dots), dots
    # The lower estimate is drawn lower on the page (a larger y) than the higher one.
    assert dots[0] > dots[1]
    # Both estimates lie beyond the field's range, so both dots are hollow.
    assert svg.count('fill="white"') == 2


def test_an_estimate_inside_the_range_is_a_filled_dot() -> None:
    svg = mean_chart(metric_info(METRICS[0].name), [row("growth", 0.5, 0.2, 0.8)],
                     {"growth": "#111"})
    assert 'fill="#111"' in svg
    assert 'fill="white"' not in svg
