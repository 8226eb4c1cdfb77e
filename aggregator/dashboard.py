"""The admin dashboard: per metric, a server-rendered SVG of each release's mean with its 95% bar.

Pure string rendering over the summary rows: no JavaScript and nothing fetched from elsewhere.
"""

from __future__ import annotations

import html

from worktally.aggregator.html_page import render_page, table
from worktally.aggregator.summary import ORG, MetricInfo, Row, metric_info, metric_names

WIDTH, HEIGHT = 360, 210
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 12, 58
COLORS = ("#2f6fdf", "#d9822b", "#2e9c6a", "#b04fc6", "#c23b3b", "#6b7a8f")
ORG_COLOR = "#1d2330"


def render_dashboard(teams: list[Row], org: list[Row]) -> str:
    """The whole page: charts of the mean per contributor, then the numbers in tables."""
    rows = teams + org
    if not rows:
        body = ('<p class="empty">Nothing is released yet. Release a cohort-period with '
                '<code>worktally-aggregator release</code>; only released figures appear.</p>')
        return render_page("worktally dashboard", "no releases", body)
    cohorts = sorted({r.cohort for r in teams})
    colors = {c: COLORS[i % len(COLORS)] for i, c in enumerate(cohorts)} | {ORG: ORG_COLOR}
    infos = [metric_info(name) for name in metric_names(rows)]
    charts = [chart_section(info, rows, colors) for info in infos]
    legend = " · ".join(f'<span style="color:{colors[c]}">■</span> {html.escape(c)}'
                        for c in [*cohorts, ORG])
    tables = "".join(_metric_table(info, rows) for info in infos)
    body = (f"<p>{legend}</p><p>Dots are the mean per contributor (for a count of people, "
            "the count); bars are 95% intervals from the known DP noise. A hollow dot is a "
            "noisy estimate beyond the field's range, drawn at its edge; a dashed bar an "
            "interval too wide to say much. (org) sums every released local-mode team.</p>"
            + "".join(charts) + "<h2>Figures</h2>" + tables)
    periods = sorted({r.period for r in rows})
    return render_page("worktally dashboard", f"periods {periods[0]} to {periods[-1]}", body)


def chart_section(spec: MetricInfo, rows: list[Row], colors: dict[str, str]) -> str:
    shown = [r for r in rows if r.figure(spec.name) is not None]
    svg = mean_chart(spec, shown, colors)
    what = "people" if spec.upper is None else "mean per person"
    return (f'<section class="chart"><h3>{html.escape(spec.name)} '
            f'({html.escape(spec.unit)}, {what})</h3>'
            f"<p>{html.escape(spec.description)}</p>{svg}</section>")


def mean_chart(spec: MetricInfo, rows: list[Row], colors: dict[str, str]) -> str:
    """A dot-and-whisker SVG: one column per (period, cohort), y over the field's range."""
    # The axis is the field's own range: a mean per person can only truly lie there. A noisy
    # estimate beyond it is drawn at the edge as a hollow dot (its raw value is in the title).
    y_min = float(spec.lower)
    y_max = max(spec.range_for(r.n)[1] for r in rows) if rows else 1.0
    if y_max == y_min:
        y_max = y_min + 1

    def y(value: float) -> float:
        clamped = min(max(value, y_min), y_max)
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (clamped - y_min) / (y_max - y_min))

    step = (WIDTH - LEFT - RIGHT) / max(len(rows), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{html.escape(spec.name)} mean per contributor with 95% intervals">',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#888"/>',
             f'<line x1="{LEFT}" y1="{y(y_min):.1f}" x2="{WIDTH - RIGHT}" '
             f'y2="{y(y_min):.1f}" stroke="#888"/>']
    for tick in (y_min, (y_min + y_max) / 2, y_max):
        parts.append(f'<text x="{LEFT - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">'
                     f"{_short(tick)}</text>")
    for i, row in enumerate(rows):
        figure = row.figure(spec.name)
        assert figure is not None
        est = figure.mean
        x = LEFT + step * (i + 0.5)
        color = colors.get(row.cohort, ORG_COLOR)
        label = html.escape(f"{row.cohort} {row.period}")
        inside = y_min <= est.raw <= spec.range_for(row.n)[1]
        dot_style = (f'fill="{color}"' if inside
                     else f'fill="white" stroke="{color}" stroke-width="1.5"')
        dash = "" if est.informative else ' stroke-dasharray="3,2"'
        parts.append(
            f'<g><title>{label}: {est.raw:.2f} [{est.low:.2f}, {est.high:.2f}] n={row.n}'
            f"</title>"
            f'<line class="errorbar" x1="{x:.1f}" y1="{y(est.low):.1f}" x2="{x:.1f}" '
            f'y2="{y(est.high):.1f}" stroke="{color}" stroke-width="2"{dash}/>'
            f'<line x1="{x - 4:.1f}" y1="{y(est.low):.1f}" x2="{x + 4:.1f}" '
            f'y2="{y(est.low):.1f}" stroke="{color}"/>'
            f'<line x1="{x - 4:.1f}" y1="{y(est.high):.1f}" x2="{x + 4:.1f}" '
            f'y2="{y(est.high):.1f}" stroke="{color}"/>'
            f'<circle cx="{x:.1f}" cy="{y(est.value):.1f}" r="3.5" {dot_style}/></g>'
            f'<text transform="translate({x:.1f},{HEIGHT - BOTTOM + 8}) rotate(40)">'
            f"{label}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _metric_table(spec: MetricInfo, rows: list[Row]) -> str:
    body: list[list[object]] = []
    for row in rows:
        f = row.figure(spec.name)
        if f is None:
            continue
        total = ["", ""] if f.total is None else [
            round(f.total.value), f"[{f.total.low:.0f}, {f.total.high:.0f}]"]
        note = ""
        if not f.mean.informative:
            note = ("interval too wide to say much" if f.mean.people_needed is None else
                    f"needs about {f.mean.people_needed} people")
        body.append([row.period, row.cohort, row.n, round(f.mean.value, 2),
                     f"[{f.mean.low:.2f}, {f.mean.high:.2f}]", *total, note])
    headers = ["period", "cohort", "n", "estimate", "95%", "sum", "sum 95%", "note"]
    return f"<h3>{html.escape(spec.name)}</h3>" + table(headers, body)


def _short(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"
