"""The dashboard's trend charts, read back from their SVG: one band per cohort, windows in time
order, every mark and label inside the picture, and uninformative figures drawn as such."""

from __future__ import annotations

import itertools
import re
from xml.etree import ElementTree

import pytest

from worktally.aggregator.dashboard import render_dashboard
from worktally.aggregator.estimates import MetricEstimate
from worktally.aggregator.summary import Row, metric_info
from worktally.aggregator.trend_chart import (
    HEIGHT,
    WIDTH,
    nice_ticks,
    text_width,
    trend_chart,
)
from worktally.client.wire.measurement import SECURE_METRICS

SHARE = "shipped_token_share_pm"
NS = {"svg": "http://www.w3.org/2000/svg"}
COLORS = {"growth": "#2f6fdf", "platform": "#d9822b"}


def row(cohort: str, period: str, value: float, low: float, high: float, *,
        raw: float | None = None, informative: bool = True, n: int = 16) -> Row:
    figures = tuple(MetricEstimate(m.name, value, value if raw is None else raw, low, high,
                                   (high - low) / 2, informative, n, 40)
                    for m in SECURE_METRICS)
    return Row(cohort=cohort, period=period, n=n, figures=figures)


def trend(periods: list[str], cohorts: tuple[str, ...] = ("growth", "platform"),
          informative: bool = True) -> list[Row]:
    return [row(c, p, 300 + 100 * i + 50 * j, 200 + 100 * i, 450 + 100 * i,
                informative=informative)
            for i, p in enumerate(periods) for j, c in enumerate(cohorts)]


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def bands(root: ElementTree.Element) -> dict[str, str]:
    return {p.get("data-cohort", ""): p.get("d", "")
            for p in root.iterfind(".//svg:path[@class='band']", NS)}


def numbers(d: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?[0-9]+(?:\.[0-9]+)?", d)]


def test_each_cohort_has_one_band_and_one_line_across_its_windows() -> None:
    periods = ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    root = parse(trend_chart(metric_info(SHARE), trend(periods), COLORS))
    found = bands(root)
    assert set(found) == {"growth", "platform"}
    for d in found.values():
        # One closed shape through every window: four points along the top, four back.
        assert d.count("M") == 1 and d.endswith("Z") and len(numbers(d)) == 2 * 2 * 4
    lines = root.findall(".//svg:path[@class='trend']", NS)
    assert len(lines) == 2 and all(numbers(p.get("d", ""))[0] < numbers(p.get("d", ""))[-2]
                                   for p in lines)


def test_windows_lie_on_a_time_axis_in_order() -> None:
    # A monthly cohort and a quarterly one: August sits inside Q3, between July and September.
    rows = [row("growth", p, 500, 400, 600) for p in ("2026-07", "2026-08", "2026-09")]
    rows.append(row("platform", "2026-Q3", 500, 400, 600))
    root = parse(trend_chart(metric_info(SHARE), rows, COLORS))
    marks = {}
    for group in root.iterfind(".//svg:g[svg:circle]", NS):
        title, circle = group.findtext("svg:title", "", NS), group.find("svg:circle", NS)
        assert circle is not None
        marks[title.split(":")[0]] = float(circle.get("cx", "nan"))
    july, august, september = (marks[f"growth 2026-0{m}"] for m in (7, 8, 9))
    quarter = marks["platform 2026-Q3"]
    assert july < august < september
    assert abs(quarter - august) < 15, "Q3's middle is August's (give or take the dodge)"


def test_a_cohort_that_skipped_a_window_has_a_gap_in_its_band() -> None:
    rows = trend(["2026-Q1", "2026-Q2", "2026-Q3"], ("growth",))
    rows += [row("platform", p, 700, 600, 800) for p in ("2026-Q1", "2026-Q3")]
    found = bands(parse(trend_chart(metric_info(SHARE), rows, COLORS)))
    assert found["growth"].count("M") == 1
    assert found["platform"].count("M") == 2, "no band across the window it did not release"


def test_a_clamped_estimate_is_a_triangle_at_the_edge_inside_the_picture() -> None:
    rows = [row("growth", "2026-Q3", 0.0, 0.0, 120.0, raw=-40.0),
            row("platform", "2026-Q3", 1000.0, 800.0, 1000.0, raw=1060.0)]
    svg = trend_chart(metric_info(SHARE), rows, COLORS)
    root = parse(svg)
    triangles = root.findall(".//svg:path[@class='marker clamped informative']", NS)
    assert len(triangles) == 2
    tips = [numbers(t.get("d", ""))[1] for t in triangles]
    bases = [numbers(t.get("d", ""))[3] for t in triangles]
    assert tips[0] > bases[0], "below the range: the triangle points down"
    assert tips[1] < bases[1], "above the range: the triangle points up"
    ys = [float(v) for v in re.findall(r'(?:cy|y1|y2|y)="(-?[0-9.]+)"', svg)]
    ys += [v for t in triangles for v in numbers(t.get("d", ""))[1::2]]
    assert all(0 <= y <= HEIGHT for y in ys)
    assert "growth 2026-Q3: 0* [0, 120]" in svg


def test_uninformative_figures_are_hollow_grey_with_no_line_and_the_chart_says_so() -> None:
    periods = ["2026-Q1", "2026-Q2", "2026-Q3"]
    root = parse(trend_chart(metric_info(SHARE), trend(periods, informative=False), COLORS))
    markers = root.findall(".//svg:circle", NS)
    assert markers and all(m.get("fill") == "white" and "uninformative" in m.get("class", "")
                           for m in markers)
    assert root.findall(".//svg:path[@class='trend']", NS) == []
    banner = root.find(".//svg:text[@class='banner']", NS)
    assert banner is not None and banner.text == "too noisy to read: needs about 40 people"
    informative = parse(trend_chart(metric_info(SHARE), trend(periods), COLORS))
    assert informative.find(".//svg:text[@class='banner']", NS) is None
    assert {m.get("fill") for m in informative.iterfind(".//svg:circle", NS)} == \
        set(COLORS.values())


def test_the_line_skips_a_figure_too_noisy_to_read_but_the_band_does_not() -> None:
    periods = ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    rows = [row("growth", p, 500, 0 if i == 1 else 400, 1000 if i == 1 else 600,
                informative=i != 1) for i, p in enumerate(periods)]
    root = parse(trend_chart(metric_info(SHARE), rows, COLORS))
    (line,) = root.findall(".//svg:path[@class='trend']", NS)
    d = line.get("d", "")
    assert d.count("M") == 1 and len(numbers(d)) == 2 * 2, "only Q2 to Q3 are joined"
    assert bands(root)["growth"].count("M") == 1, "the band covers every window"
    assert len(root.findall(".//svg:circle[@fill='white']", NS)) == 1


def label_boxes(root: ElementTree.Element) -> list[tuple[float, float, str]]:
    """Each label's estimated horizontal extent (left, right) and text."""
    out = []
    for t in root.iterfind(".//svg:text", NS):
        x, width = float(t.get("x", 0)), text_width(t.text or "")
        anchor = t.get("text-anchor", "start")
        left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        out.append((left, left + width, t.text or ""))
    return out


@pytest.mark.parametrize("periods", [
    ["2026-Q3"],
    ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"],
    [f"2026-W{w:02d}" for w in range(1, 41)],
    [f"2025-{m:02d}" for m in range(1, 13)] + [f"2026-{m:02d}" for m in range(1, 10)],
])
def test_labels_stay_inside_the_picture_and_do_not_overlap(periods: list[str]) -> None:
    root = parse(trend_chart(metric_info("ai_tokens_k_per_week"), trend(periods), COLORS))
    boxes = label_boxes(root)
    assert all(left >= 0 and right <= WIDTH for left, right, _ in boxes), boxes
    ticks = sorted((left, right, text) for (left, right, text), t in zip(
        boxes, root.iterfind(".//svg:text", NS), strict=True) if t.get("class") == "tick x")
    assert all(a[1] + 4 <= b[0] for a, b in itertools.pairwise(ticks)), ticks
    assert ticks[-1][2] == periods[-1], "the latest window is always labelled"
    assert len(ticks) >= min(len(periods), 4)


@pytest.mark.parametrize("top", [1, 3, 12, 16, 24, 150, 500, 1000, 5000])
def test_ticks_are_round_and_end_at_the_top_of_the_range(top: float) -> None:
    ticks = nice_ticks(0, top)
    assert ticks[0] == 0 and ticks[-1] == top and 3 <= len(ticks) <= 7
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks[:-1])}
    assert len(steps) <= 1


def test_a_count_is_drawn_up_to_n() -> None:
    info = metric_info("ai_active")
    assert info.upper is None and info.range_for(12) == (0, 12.0)
    svg = trend_chart(info, [row("growth", "2026-Q3", 11.0, 8.0, 12.0, n=12)], COLORS)
    assert ">12</text>" in svg, "the axis ends at n"


def test_the_page_greys_uninformative_charts_and_tables() -> None:
    periods = ["2026-Q2", "2026-Q3"]
    page = render_dashboard(trend(periods, informative=False) + trend(periods))
    # Every metric charted, each once; the rows of both kinds in one chart make it readable.
    assert page.count("<svg") == len(SECURE_METRICS)
    assert 'class="chart uninformative"' not in page
    grey = render_dashboard(trend(periods, informative=False))
    assert grey.count('class="chart uninformative"') == len(SECURE_METRICS)
    assert "needs about 40 people" in grey and '<tr class="uninformative">' in grey
    assert "Nothing is released yet" in render_dashboard([])


def test_rows_are_shown_in_time_order_not_label_order() -> None:
    # As strings "2026-02" sorts before "2026-Q1", though the quarter starts first.
    rows = [row("growth", "2026-02", 500, 400, 600), row("platform", "2026-Q1", 500, 400, 600)]
    page = render_dashboard(rows)
    assert "windows 2026-Q1 to 2026-02" in page
    table = page[page.index("<h2>Figures</h2>"):]
    assert table.index("<td>2026-Q1</td>") < table.index("<td>2026-02</td>")
