"""95% intervals from the known noise: the sum of n independent noises has variance n·σ².

The interval covers the clipped true value the clients measured; it accounts for the DP noise
only (the noise is the only randomness: every person reports, nobody is sampled). It uses the
normal approximation, which the coverage test checks against OpenDP-sampled noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A noised figure with its 95% interval; `variance` is the noise variance behind it."""

    value: float
    low: float
    high: float
    variance: float

    @property
    def half_width(self) -> float:
        return Z95 * math.sqrt(self.variance)


def sum_estimate(total: int, n: int, per_report_variance: float, lower: int,
                 upper: int) -> Estimate:
    """The cohort sum: ± z·sqrt(n·σ²), clipped to what n clipped values can add up to."""
    variance = n * per_report_variance
    return _bounded(float(total), variance, n * lower, n * upper)


def mean_estimate(total: int, n: int, per_report_variance: float, lower: int,
                  upper: int) -> Estimate:
    """The mean per contributor: ± z·sqrt(σ²/n), clipped to the metric's bounds."""
    if n <= 0:
        raise ValueError("a mean needs at least one contributor")
    variance = per_report_variance / n
    return _bounded(total / n, variance, lower, upper)


def combine_sums(parts: list[tuple[float, float]], lower: float, upper: float) -> Estimate:
    """Add independent (total, variance) parts, as org totals add team releases."""
    total = sum(p[0] for p in parts)
    variance = sum(p[1] for p in parts)
    return _bounded(total, variance, lower, upper)


def _bounded(value: float, variance: float, lower: float, upper: float) -> Estimate:
    # The truth lies within the clipping bounds, so trimming the interval there only helps.
    half = Z95 * math.sqrt(variance)
    low = min(max(value - half, lower), upper)
    high = max(min(value + half, upper), lower)
    return Estimate(value, low, high, variance)
