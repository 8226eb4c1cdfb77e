"""One metric's trend as a server-rendered SVG: per cohort, a line through its released figures
across windows and a band for their 95% intervals, on the metric's own range.

Windows sit on a time axis (a cohort's quarters and another's months line up); labels are
horizontal and thinned until they fit, and every label stays inside the picture. Figures are
shown by the display rule (`client/wire/display.py`): a clamped estimate is a triangle at
the range's edge pointing where the noise put it, an uninformative one a hollow grey point,
and a chart with no informative figure says how many people it would need.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worktally.aggregator.summary import MetricInfo, Row
from worktally.client.wire.display import Figure
from worktally.client.wire.windows import Window, parse_label

WIDTH, HEIGHT = 640, 280
TOP, RIGHT, BOTTOM = 14, 12, 34
BANNER = 32  # the strip above the plot that says a chart is too noisy to read
FONT_PX = 12
# A generous advance per character of a 12px system-ui label (digits are about 6.7px), so
# a label's estimated box is never smaller than the drawn one.
CHAR_PX = 7.6
BAND_HALF = 9.0  # half the width of the band of a window with no neighbour
DODGE = 6.0  # how far apart cohorts' points sit at one window, so none hides another
# With a single window there is no trend to overlap: cohorts' bands stand side by side.
LONE_DODGE = 2 * BAND_HALF + 3
POINT_R = 4.5
GREY = "#8a909c"
GRID = "#e3e6ec"
AXIS = "#9aa1ad"
# A chart's y mapping: a value in the metric's unit to its SVG y.
YMap = Callable[[float], float]


@dataclass(frozen=True)
class Point:
    cohort: str
    window: Window
    n: int
    figure: Figure


def text_width(text: str) -> float:
    """The estimated width of a label at FONT_PX (a bound, not a measurement)."""
    return CHAR_PX * len(text)


def series(spec: MetricInfo, rows: Sequence[Row]) -> dict[str, list[Point]]:
    """Per cohort, its figures of this metric in window order."""
    out: dict[str, list[Point]] = {}
    for row in rows:
        estimate = row.figure(spec.name)
        if estimate is not None:
            out.setdefault(row.cohort, []).append(
                Point(row.cohort, parse_label(row.period), row.n, estimate.figure()))
    for points in out.values():
        points.sort(key=lambda p: p.window.start)
    return dict(sorted(out.items()))


def needs_summary(by_cohort: dict[str, list[Point]]) -> str:
    """What a chart with no informative figure would need: each cohort's latest figure's
    team size, as `needs about N people` (or a range over the cohorts)."""
    needed = sorted({p[-1].figure.people_needed for p in by_cohort.values()
                     if p and p[-1].figure.people_needed is not None})
    if not needed:
        return "interval too wide to say much"
    if len(needed) == 1:
        return f"needs about {needed[0]:,} people"
    return f"needs about {needed[0]:,} to {needed[-1]:,} people"


def trend_chart(spec: MetricInfo, rows: Sequence[Row], colors: dict[str, str]) -> str:
    """The SVG for one metric over every window any cohort released."""
    by_cohort = series(spec, rows)
    points = [p for ps in by_cohort.values() for p in ps]
    low_v = float(spec.lower)
    high_v = max((spec.range_for(p.n)[1] for p in points), default=1.0)
    if high_v <= low_v:
        high_v = low_v + 1
    ticks = nice_ticks(low_v, high_v)
    tick_labels = [_tick(t, high_v - low_v) for t in ticks]
    left = 10 + max(text_width(t) for t in tick_labels) + 6
    plot_bottom = HEIGHT - BOTTOM
    too_noisy = bool(points) and not any(p.figure.informative for p in points)
    top = TOP + BANNER if too_noisy else TOP

    def y(value: float) -> float:
        clamped = min(max(value, low_v), high_v)
        return top + (plot_bottom - top) * (1 - (clamped - low_v) / (high_v - low_v))

    windows = sorted({p.window for p in points}, key=lambda w: w.start)
    xs, labelled = _x_axis(windows, left)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" font-family="system-ui, sans-serif" '
             f'font-size="{FONT_PX}" role="img" aria-label="{html.escape(spec.name)} per '
             'cohort across windows, with 95% interval bands">']
    for tick, label in zip(ticks, tick_labels, strict=True):
        parts.append(f'<line x1="{left:.1f}" y1="{y(tick):.1f}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y(tick):.1f}" stroke="{GRID}"/>'
                     f'<text class="tick y" x="{left - 6:.1f}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{label}</text>')
    parts.append(f'<line x1="{left:.1f}" y1="{top}" x2="{left:.1f}" y2="{plot_bottom}" '
                 f'stroke="{AXIS}"/>'
                 f'<line x1="{left:.1f}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" '
                 f'y2="{plot_bottom}" stroke="{AXIS}"/>')
    for window in labelled:
        parts.append(f'<text class="tick x" x="{xs[window]:.1f}" y="{plot_bottom + 18}" '
                     f'text-anchor="middle">{html.escape(window.label)}</text>')
    cohorts = list(by_cohort)
    spread = LONE_DODGE if len(windows) == 1 else DODGE
    for i, (cohort, pts) in enumerate(by_cohort.items()):
        dodge = (i - (len(cohorts) - 1) / 2) * spread
        color = colors.get(cohort, GREY)
        parts.append(_cohort_series(cohort, pts, {w: x + dodge for w, x in xs.items()}, y,
                                    color))
    if too_noisy:
        parts.append(_too_noisy_banner(needs_summary(by_cohort), left))
    parts.append("</svg>")
    return "".join(parts)


def _x_axis(windows: list[Window], left: float) -> tuple[dict[Window, float], list[Window]]:
    """Each window's x (its middle on a time axis) and the windows whose labels fit."""
    if not windows:
        return {}, []
    widest = max(text_width(w.label) for w in windows)
    # Room at both ends for half a label and a band, so neither crosses the axis or the edge.
    pad = max(widest / 2 + 4, BAND_HALF + 2 * LONE_DODGE)
    first, last = left + pad, WIDTH - RIGHT - pad
    mids = [w.start + (w.end - w.start) / 2 for w in windows]
    span = (max(mids) - min(mids)).total_seconds()
    if span == 0:  # one window, or windows of different kinds around the same middle
        return {w: (first + last) / 2 for w in windows}, windows[-1:]
    xs = {w: first + (last - first) * (m - min(mids)).total_seconds() / span
          for w, m in zip(windows, mids, strict=True)}
    # From the latest window, which is always labelled, leftwards: a label that would touch
    # the last one kept is skipped. Evenly spaced windows get every k-th label.
    labelled: list[Window] = []
    for window in sorted(windows, key=lambda w: xs[w], reverse=True):
        if not labelled or xs[labelled[-1]] - xs[window] >= widest + 10:
            labelled.append(window)
    return xs, labelled[::-1]


def _segments(points: list[Point]) -> list[list[Point]]:
    """Runs of consecutive windows: a cohort that skipped a window gets a gap, not a band
    across it."""
    runs: list[list[Point]] = []
    for p in points:
        if runs and runs[-1][-1].window.previous(-1) == p.window:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def _line_runs(points: list[Point]) -> list[list[Point]]:
    """Runs of consecutive informative figures: a line through figures too noisy to read
    would draw the noise as a trend."""
    return [run for whole in _segments(points)
            for run in _split(whole, lambda p: p.figure.informative)]


def _split(points: list[Point], keep: Callable[[Point], bool]) -> list[list[Point]]:
    """The runs of two or more consecutive points that `keep` accepts."""
    runs: list[list[Point]] = [[]]
    for p in points:
        if keep(p):
            runs[-1].append(p)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if len(r) > 1]


def _cohort_series(cohort: str, points: list[Point], xs: dict[Window, float], y: YMap,
                   color: str) -> str:
    band, line = [], []
    for run in _segments(points):
        if len(run) == 1:
            x, f = xs[run[0].window], run[0].figure
            band.append(f"M{x - BAND_HALF:.1f},{y(f.high):.1f}H{x + BAND_HALF:.1f}"
                        f"V{y(f.low):.1f}H{x - BAND_HALF:.1f}Z")
            continue
        upper = [f"{xs[p.window]:.1f},{y(p.figure.high):.1f}" for p in run]
        lower = [f"{xs[p.window]:.1f},{y(p.figure.low):.1f}" for p in reversed(run)]
        band.append("M" + "L".join(upper + lower) + "Z")
    for run in _line_runs(points):
        line.append("M" + "L".join(f"{xs[p.window]:.1f},{y(p.figure.estimate):.1f}"
                                   for p in run))
    name = html.escape(cohort)
    out = [f'<g class="series" data-cohort="{name}">',
           f'<path class="band" data-cohort="{name}" d="{"".join(band)}" fill="{color}" '
           'fill-opacity="0.2" stroke="none"/>']
    if line:
        out.append(f'<path class="trend" d="{"".join(line)}" fill="none" stroke="{color}" '
                   'stroke-width="2" stroke-linejoin="round"/>')
    for p in points:
        out.append(_point(p, xs[p.window], y, color))
    out.append("</g>")
    return "".join(out)


def _point(p: Point, x: float, y: YMap, color: str) -> str:
    f = p.figure
    title = html.escape(f"{p.cohort} {p.window.label}: {f.text}, n={p.n}"
                        + (f"; {f.note}" if f.note else ""))
    fill, stroke = (color, "white") if f.informative else ("white", GREY)
    kind = "informative" if f.informative else "uninformative"
    cy = y(f.estimate)
    if f.clamped:
        # A triangle at the edge, pointing the way the noise pushed the raw figure.
        up = f.raw > f.estimate
        tip, base = (cy - 6, cy + 4) if up else (cy + 6, cy - 4)
        shape = (f'<path class="marker clamped {kind}" d="M{x:.1f},{tip:.1f}'
                 f'L{x + 5.5:.1f},{base:.1f}L{x - 5.5:.1f},{base:.1f}Z" fill="{fill}" '
                 f'stroke="{stroke}" stroke-width="1.5"/>')
    else:
        shape = (f'<circle class="marker {kind}" cx="{x:.1f}" cy="{cy:.1f}" r="{POINT_R}" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
    return f"<g><title>{title}</title>{shape}</g>"


def _too_noisy_banner(needs: str, left: float) -> str:
    text = f"too noisy to read: {needs}"
    width = text_width(text) + 16
    centre = (left + WIDTH - RIGHT) / 2
    return (f'<rect x="{centre - width / 2:.1f}" y="{TOP - 8}" width="{width:.1f}" '
            f'height="24" rx="4" fill="white" fill-opacity="0.9" stroke="{GREY}"/>'
            f'<text class="banner" x="{centre:.1f}" y="{TOP + 8}" text-anchor="middle" '
            f'fill="#4a5161">{html.escape(text)}</text>')


def nice_ticks(low: float, high: float) -> list[float]:
    """Round ticks (steps of 1, 2, 2.5 or 5 times a power of ten, at most six of them) from
    `low`, ending at `high` itself: the top of the range is always labelled."""
    raw = (high - low) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    count = math.ceil((high - 0.4 * step - low) / step)
    return [*(round(low + i * step, 9) for i in range(count)), high]


def _tick(value: float, span: float) -> str:
    if span >= 10:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
