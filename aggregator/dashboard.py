"""The admin dashboard: per metric, each cohort's trend across windows with its 95% interval
band (`trend_chart`), then the figures in tables, all shown by the display rule.

Pure string rendering over the summary rows: no JavaScript and nothing fetched from elsewhere.
A chart whose figures are all uninformative is greyed and says how many people it would need.
"""

from __future__ import annotations

import html

from worktally.aggregator.html_page import render_page, table
from worktally.aggregator.summary import METRIC_INFOS, MetricInfo, Row
from worktally.aggregator.trend_chart import needs_summary, series, trend_chart
from worktally.client.wire.display import CLAMP_LEGEND, GREY_LEGEND
from worktally.client.wire.windows import parse_label

COLORS = ("#2f6fdf", "#d9822b", "#2e9c6a", "#b04fc6", "#c23b3b", "#6b7a8f")


def render_dashboard(rows: list[Row]) -> str:
    """The whole page: one chart per metric of the schema, then the numbers in tables."""
    if not rows:
        body = ('<p class="empty">Nothing is released yet. Release a cohort\'s window with '
                '<code>worktally-aggregator release</code>; only released figures appear.</p>')
        return render_page("worktally dashboard", "no releases", body)
    rows = sorted(rows, key=lambda r: (parse_label(r.period).start, r.cohort))
    cohorts = sorted({r.cohort for r in rows})
    colors = {c: COLORS[i % len(COLORS)] for i, c in enumerate(cohorts)}
    legend = "".join(f'<span class="key"><span class="swatch" style="background:{colors[c]}">'
                     f"</span>{html.escape(c)}</span>" for c in cohorts)
    charts = "".join(chart_section(info, rows, colors) for info in METRIC_INFOS)
    tables = "".join(_metric_table(info, rows) for info in METRIC_INFOS)
    body = (f'<p class="legend">{legend}</p>'
            '<p class="explain">Each chart is one metric across release windows. The line is '
            "a cohort's released figure (a count of people, a share's mean over the people it "
            "applies to, a volume's mean per person); the shaded band is its 95% interval "
            "from the known DP noise. A triangle at the edge is an estimate the noise put "
            f"outside the metric's range; a hollow grey point a figure too noisy to read. "
            f"In the tables, {html.escape(CLAMP_LEGEND)}; {html.escape(GREY_LEGEND)}.</p>"
            f'<div class="charts">{charts}</div><h2>Figures</h2>'
            f'<div class="tables">{tables}</div>')
    first, last = rows[0].period, rows[-1].period
    subtitle = f"window {first}" if first == last else f"windows {first} to {last}"
    return render_page("worktally dashboard", subtitle, body)


def chart_section(spec: MetricInfo, rows: list[Row], colors: dict[str, str]) -> str:
    by_cohort = series(spec, rows)
    figures = [p.figure for points in by_cohort.values() for p in points]
    informative = any(f.informative for f in figures)
    unit = spec.unit if spec.upper is None else f"{spec.unit}, mean per person"
    caption = ""
    if figures and not informative:
        needs = {c: needs_summary({c: ps}) for c, ps in by_cohort.items()}
        said = (next(iter(needs.values())) if len(set(needs.values())) == 1 else
                ", ".join(f"{html.escape(c)} {n}" for c, n in needs.items()))
        caption = ('<p class="needs">Too noisy to read at these team sizes: every 95% '
                   f"interval covers most of the range; {said}.</p>")
    cls = "chart" if informative else "chart uninformative"
    return (f'<section class="{cls}" data-metric="{html.escape(spec.name)}">'
            f'<h3>{html.escape(spec.name)} <span class="unit">({html.escape(unit)})</span>'
            f"</h3><p>{html.escape(spec.description)}</p>"
            f"{trend_chart(spec, rows, colors)}{caption}</section>")


def _metric_table(spec: MetricInfo, rows: list[Row]) -> str:
    body: list[list[object]] = []
    classes: list[str] = []
    for row in rows:
        estimate = row.figure(spec.name)
        if estimate is None:
            continue
        f = estimate.figure()
        body.append([row.period, row.cohort, row.mode, row.n, f.value_text, f.interval_text,
                     f.note])
        classes.append("" if f.informative else "uninformative")
    headers = ["window", "cohort", "mode", "n", "estimate", "95% interval", "note"]
    return (f'<section class="figures"><h3>{html.escape(spec.name)}</h3>'
            f"{table(headers, body, classes)}</section>")
