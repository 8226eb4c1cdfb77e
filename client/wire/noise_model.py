"""The accuracy model of a secure release: its estimates with 95% intervals, the half-width a
team of a given size can expect, how many people a figure needs, and the accuracy tables of
docs/privacy.md. The interval arithmetic itself is in `noise_intervals`.

Estimates are per metric, in schema order: a flag gives a count of people, a share its
mean over the people in its gate, a volume its mean over all n reports (n is public).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from worktally.client.wire.display import clamp
from worktally.client.wire.errors import MeasurementError
from worktally.client.wire.measurement import (
    METRICS_BY_NAME,
    SECURE_METRICS,
    MetricKind,
    SecureMetric,
    coordinates,
)
from worktally.client.wire.noise_intervals import (
    LEVEL,
    LOCAL,
    Z,
    check_copies,
    count_interval,
    share_interval,
    sum_half_width,
    volume_mean_interval,
)
from worktally.client.wire.privacy import YEARLY_EPSILON_CAP
from worktally.client.wire.windows import WINDOWS_PER_YEAR, WindowKind

__all__ = [
    "LEVEL",
    "LOCAL",
    "REFERENCE_SHARE_MEAN",
    "TARGET_HALF_WIDTH",
    "TEAM_SIZES",
    "UNINFORMATIVE_SPAN",
    "Estimate",
    "Z",
    "accuracy_markdown",
    "count_interval",
    "estimate_release",
    "expected_half_width",
    "people_needed",
    "share_interval",
    "sum_half_width",
    "volume_mean_interval",
]

# A figure whose interval spans at least this part of its range says little.
UNINFORMATIVE_SPAN = 0.8
# `people_needed` is the team size at which the expected half-width is this part of the range.
TARGET_HALF_WIDTH = 0.1
# Shares: the true mean the accuracy tables assume (5% of the range: 50‰, near the worst case).
REFERENCE_SHARE_MEAN = 0.05


@dataclass(frozen=True)
class Estimate:
    """One released figure with its 95% interval.

    `value` is the estimate clamped to the metric's range (counts to [0, n]); `raw` is it
    unclamped; `low`/`high` are the interval trimmed to the range; `half_width` is half the
    untrimmed interval (infinite when the data bound the figure on one side only).
    """

    value: float
    raw: float
    low: float
    high: float
    half_width: float
    informative: bool
    people_needed: int


def _metric(metric: SecureMetric | str) -> SecureMetric:
    if isinstance(metric, SecureMetric):
        return metric
    try:
        return METRICS_BY_NAME[metric]
    except KeyError:
        raise MeasurementError(f"{metric!r} is not a metric of the secure schema") from None


def _scales(metric: SecureMetric, epsilon_release: float) -> tuple[float, float]:
    """(scale of the metric's coordinate, scale of its gate's count or 0)."""
    by_name = {c.metric: c.scale for c in coordinates(epsilon_release)}
    return by_name[metric.name], by_name[metric.gate] if metric.gate else 0.0


def _range(metric: SecureMetric, n: int) -> float:
    return float(n if metric.kind is MetricKind.FLAG else metric.bound)


def expected_half_width(metric: SecureMetric | str, n: int, epsilon_release: float,
                        copies: int, true_mean: float | None = None,
                        gated: int | None = None) -> float:
    """The 95% half-width (untrimmed) a release of `n` reports gets, in the metric's unit.

    Counts and volume means have a half-width that does not depend on the noise drawn. For
    a share it is the half-width of the set a release would get if its noise came out 0,
    with `gated` of the n reports in the denominator (all, by default) and the given true
    mean (default REFERENCE_SHARE_MEAN of the range): close to the typical width.
    """
    metric = _metric(metric)
    check_copies(copies)
    if n < 1:
        raise MeasurementError("a release needs at least one report")
    scale, gate_scale = _scales(metric, epsilon_release)
    if metric.kind is MetricKind.FLAG:
        return sum_half_width(scale, copies, n)
    if metric.kind is MetricKind.VOLUME:
        return sum_half_width(scale, copies, n) / n
    count = n if gated is None else gated
    mean = metric.bound * REFERENCE_SHARE_MEAN if true_mean is None else true_mean
    low, high = share_interval((mean - metric.centre) * count, count, metric.centre,
                               metric.bound, scale, gate_scale, copies, n)
    return (high - low) / 2


def people_needed(metric: SecureMetric | str, epsilon_release: float, copies: int,
                  true_mean: float | None = None) -> int:
    """The smallest team whose expected half-width is at most 10% of the metric's range.

    A share's true mean is rounded to 5% of the range first: the answer is "about N people"
    (the half-width barely moves over 50‰ of mean), and the rounding lets releases reuse
    the answer.
    """
    metric = _metric(metric)
    check_copies(copies)
    if true_mean is not None:
        true_mean = round(true_mean / metric.bound * 20) / 20 * metric.bound
    return _people_needed(metric, epsilon_release, copies, true_mean)


@functools.lru_cache(maxsize=4096)
def _people_needed(metric: SecureMetric, epsilon_release: float, copies: int,
                   true_mean: float | None) -> int:
    def excess(n: int) -> float:
        half = expected_half_width(metric, n, epsilon_release, copies, true_mean)
        return half / (TARGET_HALF_WIDTH * _range(metric, n))

    # The half-width falls about as 1/n (as 1/sqrt(n) in local mode; for counts relative
    # to the range n), so one finite probe gives a close guess; then bracket and bisect.
    probe = 64
    while math.isinf(ratio := excess(probe)):
        probe *= 4
    guess = max(1, math.ceil(probe * (ratio**2 if copies == LOCAL else ratio)))
    low, high = guess - 1, guess  # invariant: excess(low) > 1 (or low == 0) >= excess(high)
    while excess(high) > 1:
        low, high = high, high * 2
    while low >= 1 and excess(low) <= 1:
        high, low = low, low // 2
    while high - low > 1:
        mid = (low + high) // 2
        if excess(mid) <= 1:
            high = mid
        else:
            low = mid
    return high


def estimate_release(noisy_coordinates: Sequence[int], report_count: int,
                     epsilon_release: float, copies: int) -> dict[str, Estimate]:
    """Estimates for one release from `measurement.released_coordinates`, schema order.

    Flags give counts of people, shares their mean over the people in their gate, volumes
    their mean over all `report_count` reports.
    """
    check_copies(copies)
    if len(noisy_coordinates) != len(SECURE_METRICS):
        raise MeasurementError(f"expected {len(SECURE_METRICS)} coordinates")
    if report_count < 1:
        raise MeasurementError("a release needs at least one report")
    n = report_count
    noisy = dict(zip((m.name for m in SECURE_METRICS), noisy_coordinates, strict=True))
    out: dict[str, Estimate] = {}
    for metric in SECURE_METRICS:
        scale, gate_scale = _scales(metric, epsilon_release)
        top = _range(metric, n)
        value = float(noisy[metric.name])
        if metric.kind is MetricKind.FLAG:
            low, high = count_interval(value, scale, copies, n)
            raw = value
        elif metric.kind is MetricKind.VOLUME:
            low, high = volume_mean_interval(value, scale, copies, n)
            raw = value / n
        else:
            count = float(noisy[metric.gate or ""])
            low, high = share_interval(value, count, metric.centre, metric.bound, scale,
                                       gate_scale, copies, n)
            # With no people in the denominator there is no estimate: show the centre.
            raw = metric.centre + value / count if count > 0 else float(metric.centre)
        clamped = clamp(raw, 0.0, top)
        needed = people_needed(metric, epsilon_release, copies,
                               clamped if metric.kind is MetricKind.SHARE else None)
        out[metric.name] = _estimate(raw, clamped, low, high, top, needed)
    return out


def _estimate(raw: float, value: float, low: float, high: float, top: float,
              needed: int) -> Estimate:
    half = (high - low) / 2
    if high < 0 or low > top:
        # The interval missed the range (noise this large happens < 5% of the time): say
        # nothing rather than pin the figure to an edge.
        return Estimate(value, raw, 0.0, top, half, False, needed)
    low, high = max(low, 0.0), min(high, top)
    # Judged on the interval before trimming: one that reaches far outside the range and is
    # cut down to a narrow piece of it says no more than its full width.
    return Estimate(value, raw, low, high, half, 2 * half < UNINFORMATIVE_SPAN * top, needed)


TEAM_SIZES = (10, 16, 24, 50, 200)
_MODES = (("helper", 1), ("both", 2), ("local", LOCAL))
_TITLES = {WindowKind.WEEK: "Weekly", WindowKind.MONTH: "Monthly",
           WindowKind.QUARTER: "Quarterly"}


def accuracy_markdown(team_sizes: Sequence[int] = TEAM_SIZES,
                      yearly_epsilon: float = YEARLY_EPSILON_CAP) -> str:
    """The accuracy tables of docs/privacy.md: expected 95% half-widths per metric, team size,
    window (ε per release = the yearly cap over the windows in a year) and noise mode."""
    lines = [
        "<!-- generated by worktally.client.wire.noise_model.accuracy_markdown(); "
        "edit the code, not these tables -->",
        "Every number in these tables is computed by "
        "`worktally.client.wire.noise_model.accuracy_markdown()` from the exact noise "
        "distributions (the normal approximation in local mode), and a test checks that this "
        "page shows exactly what it computes.",
        "",
        "A cell is the half-width of the 95% interval a team of that size gets, before it is "
        "trimmed to the metric's range: counts in people; shares in ‰, for a true mean of "
        f"{REFERENCE_SHARE_MEAN * 1000:g}‰ with everyone in the denominator; volumes in the "
        "metric's unit, per person. Noise: **helper**, the helper's draw alone (the default "
        "deployment); **both**, a draw from each aggregator (a third-party leader); "
        "**local**, every person noises their own report (the fallback), at the same ε. "
        "† marks an interval spanning 80% of the range or more: a figure that says little.",
    ]
    for kind in WindowKind:
        epsilon = yearly_epsilon / WINDOWS_PER_YEAR[kind]
        lines += ["", f"#### {_TITLES[kind]} releases (ε = {epsilon:.3g} per release, "
                      f"{yearly_epsilon:g} per year over {WINDOWS_PER_YEAR[kind]})", "",
                  "| metric | noise | " + " | ".join(str(n) for n in team_sizes) + " |",
                  "|---|---|" + "--:|" * len(team_sizes)]
        for metric in SECURE_METRICS:
            for mode, copies in _MODES:
                cells = [_cell(metric, n, epsilon, copies) for n in team_sizes]
                lines.append(f"| `{metric.name}` ({metric.unit}) | {mode} | "
                             + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(metric: SecureMetric, n: int, epsilon: float, copies: int) -> str:
    half = expected_half_width(metric, n, epsilon, copies)
    text = "±∞" if math.isinf(half) else f"±{half:,.0f}"
    return text + (" †" if 2 * half >= UNINFORMATIVE_SPAN * _range(metric, n) else "")
