"""Dashboard charts keep every dot and bar inside the SVG, even for a clipped interval."""

from __future__ import annotations

import re

from worktally.aggregator.dashboard import BOTTOM, HEIGHT, TOP, mean_chart, render_dashboard
from worktally.aggregator.estimates import MetricEstimate
from worktally.aggregator.summary import Row, metric_info
from worktally.client.wire.measurement import SECURE_METRICS

SHARE = "shipped_token_share_pm"


def row(cohort: str, value: float, low: float, high: float, informative: bool = True) -> Row:
    figures = tuple(MetricEstimate(m.name, value, value, low, high, 19.6, informative, 12, 40)
                    for m in SECURE_METRICS)
    return Row(cohort=cohort, period="2026-Q3", n=12, figures=figures)


def test_an_estimate_outside_its_clipped_interval_stays_in_the_chart() -> None:
    # A noisy mean of -40 with its interval clipped to the metric's lower bound 0.
    rows = [row("growth", -40.0, 0.0, 120.0), row("platform", 1060.0, 800.0, 1000.0)]
    svg = mean_chart(metric_info(SHARE), rows, {"growth": "#111", "platform": "#222"})
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
    svg = mean_chart(metric_info(SHARE), [row("growth", 500.0, 200.0, 800.0)],
                     {"growth": "#111"})
    assert 'fill="#111"' in svg
    assert 'fill="white"' not in svg


def test_a_count_of_people_is_drawn_up_to_n() -> None:
    info = metric_info("ai_active")
    assert info.upper is None and info.range_for(12) == (0, 12.0)
    svg = mean_chart(info, [row("growth", 11.0, 8.0, 12.0)], {"growth": "#111"})
    assert 'fill="#111"' in svg and ">12<" in svg, "the axis ends at n"


def test_the_page_has_one_chart_per_metric_and_says_how_many_people_a_figure_needs() -> None:
    page = render_dashboard([row("growth", 500.0, 0.0, 1000.0, informative=False)])
    assert page.count("<svg") == len(SECURE_METRICS)
    assert "needs about 40 people" in page
    assert "Nothing is released yet" in render_dashboard([])
