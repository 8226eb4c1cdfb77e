"""95% intervals for noised sums and shares, from the exactly known discrete Laplace noise.

Pure math, no randomness. Each released coordinate (see `measurement`) carries
- `copies=1`: one discrete Laplace draw, the helper's (the default deployment: the org runs
  the leader and the collector, so only the helper's noise protects anyone);
- `copies=2`: two iid draws, one per aggregator (a third-party leader);
- `copies=LOCAL`: local mode, where every report carried its own draw, so the noise is the
  sum of n draws. There the normal approximation is used: n ≥ k (10 by default) symmetric
  draws with finite variance, and at the 95% level the approximation is close (the coverage
  tests check it against OpenDP noise). Copies 1 and 2 use exact distributions, since one
  or two Laplace draws are far from normal in the tails.

Intervals (all 95%, and all before trimming to the metric's range):
- count (a flag): C̃ ± q, q the exact 95% quantile of |noise|;
- volume mean over the n reports (n is public): (Ṽ ± q) / n;
- share m = c + T/C: the exact Fieller-style set {m : P(|X - (m-c)·Y| ≥ |T̃ - (m-c)·C̃|) >
  0.05}, where X is the centred sum's noise and Y the gate count's. At the true m,
  T̃ - (m-c)·C̃ = X - (m-c)·Y exactly, so the set covers the truth with probability ≥ 95%.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from statistics import NormalDist

from worktally.client.wire.discrete_laplace import DiscreteLaplace
from worktally.client.wire.errors import MeasurementError

LEVEL = 0.95
Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)
LOCAL = 0
_SUPPORT_TAIL = 1e-12
# A share set still open this many ranges away from the centre is unbounded.
_SCAN_RANGES = 20.0
# Resolution of a share interval's ends, as a part of the range (0.1‰ for a per-mille
# share; figures are shown to 1‰).
_RESOLUTION = 1e-4
# Count noise enters a share's test through ceil(); nudging by this keeps exact integers exact.
_ROUND = 1e-9


def check_copies(copies: int) -> None:
    if copies not in (1, 2, LOCAL):
        raise MeasurementError(f"noise copies must be 1, 2 or LOCAL (0), not {copies!r}")


def _noise(scale: float, copies: int) -> DiscreteLaplace:
    # In local mode the per-report draw is the one-copy distribution; `_local_sd` sums n.
    return DiscreteLaplace(scale, 1 if copies == LOCAL else copies)


def _local_sd(scale: float, n: int) -> float:
    return math.sqrt(n * DiscreteLaplace(scale).variance)


def sum_half_width(scale: float, copies: int, n: int) -> float:
    """Half-width of the 95% interval for a noised sum (a count, a volume total)."""
    check_copies(copies)
    if copies == LOCAL:
        return Z * _local_sd(scale, n)
    return float(_noise(scale, copies).abs_quantile(LEVEL))


def count_interval(noisy_count: float, scale: float, copies: int, n: int) -> tuple[float, float]:
    """The untrimmed 95% interval for a flag's count."""
    q = sum_half_width(scale, copies, n)
    return noisy_count - q, noisy_count + q


def volume_mean_interval(noisy_sum: float, scale: float, copies: int,
                         n: int) -> tuple[float, float]:
    """The untrimmed 95% interval for a volume's mean over the n (public) reports."""
    q = sum_half_width(scale, copies, n)
    return (noisy_sum - q) / n, (noisy_sum + q) / n


class _ShareTest:
    """P(|X - d·Y| ≥ t) for exact X and Y, summing over Y's (truncated) support."""

    def __init__(self, x: DiscreteLaplace, y: DiscreteLaplace) -> None:
        self.inv, self.slope, self.const = x.tail_coefficients
        # Y is symmetric and so is X: the terms for y and -y are equal, so sum k ≥ 0 with
        # P(|Y| = k) as the weight.
        self.weights = y.support(_SUPPORT_TAIL)

    def pvalue(self, d: float, t: float) -> float:
        if t <= 0:
            return 1.0
        inv, slope, const = self.inv, self.slope, self.const
        exp, ceil = math.exp, math.ceil
        total = 0.0
        for k, w in self.weights:
            # |X - dk| ≥ t is X ≥ t + dk or, X being symmetric, -X ≥ t - dk; X is an
            # integer, so each is P(X ≥ ceil(.)). P(X ≥ j) is inlined from
            # DiscreteLaplace.tail_coefficients: this loop is the model's whole cost.
            for j in (ceil(t + d * k - _ROUND), ceil(t - d * k - _ROUND)):
                if j >= 1:
                    total += w * exp(-j * inv) * (slope * j + const)
                else:
                    total += w * (1.0 - exp((j - 1) * inv) * (slope * (1 - j) + const))
        return total


@functools.lru_cache(maxsize=256)
def _share_test(scale_t: float, scale_count: float, copies: int) -> _ShareTest:
    return _ShareTest(DiscreteLaplace(scale_t, copies), DiscreteLaplace(scale_count, copies))


def _normal_fieller(t: float, c: float, var_t: float, var_c: float,
                    z: float) -> tuple[float, float] | None:
    """{d : (t - d·c)² ≤ z²(var_t + d²·var_c)} when it is a bounded interval, else None."""
    a = c * c - z * z * var_c
    if a <= 0:
        return None
    b = t * c
    disc = b * b - a * (t * t - z * z * var_t)
    root = math.sqrt(max(disc, 0.0))
    return (b - root) / a, (b + root) / a


def share_interval(noisy_t: float, noisy_count: float, centre: float, bound: float,
                   scale_t: float, scale_count: float, copies: int,
                   n: int) -> tuple[float, float]:
    """The untrimmed 95% set for a share's mean, as (low, high); ±inf where it is open.

    Exact modes search the ends of the accepted set around the point estimate (secant steps
    and bisection, from the normal approximation's ends); local mode solves the normal
    version in closed form. A count estimate C̃ ≤ 0 gives (-inf, inf).
    """
    check_copies(copies)
    if noisy_count <= 0:
        return -math.inf, math.inf
    if copies == LOCAL:
        ends = _normal_fieller(noisy_t, noisy_count, _local_sd(scale_t, n) ** 2,
                               _local_sd(scale_count, n) ** 2, Z)
        return (-math.inf, math.inf) if ends is None else (centre + ends[0], centre + ends[1])
    test = _share_test(scale_t, scale_count, copies)
    x, y = DiscreteLaplace(scale_t, copies), DiscreteLaplace(scale_count, copies)
    log_miss = math.log(1.0 - LEVEL)

    def score(m: float) -> float:
        # log(p-value / 0.05): m is in the set when positive. Far out in the tails the
        # p-value falls about geometrically, so its log is close to linear in m, which is
        # what the secant steps of `_boundary` like.
        d = m - centre
        pvalue = test.pvalue(d, abs(noisy_t - d * noisy_count))
        return math.log(pvalue) - log_miss if pvalue > 0 else -math.inf

    m_hat = centre + noisy_t / noisy_count
    guess = _normal_fieller(noisy_t, noisy_count, x.variance, y.variance, Z)
    starts = (None, None) if guess is None else (centre + guess[0], centre + guess[1])
    # The search reaches this far beyond both the range and the point estimate (which a
    # count near 0 can throw far outside the range).
    reach = _SCAN_RANGES * bound
    low = _boundary(score, m_hat, -1.0, starts[0], min(centre, m_hat) - reach, bound)
    high = _boundary(score, m_hat, 1.0, starts[1], max(centre, m_hat) + reach, bound)
    return low, high


def _boundary(score: Callable[[float], float], start: float, direction: float,
              guess: float | None, limit: float, bound: float) -> float:
    """Where the accepted run from `start` (score > 0) ends towards `limit`; ±inf if it
    reaches the limit. Returns the rejected side of a final bracket narrower than the
    resolution, so the interval errs wide, never narrow."""
    tol = _RESOLUTION * bound
    if guess is None and score(limit) > 0:
        # The normal approximation already says the set is open; confirm it in one step.
        return math.copysign(math.inf, direction)
    inner, f_inner = start, math.inf
    outer, f_outer = limit, -math.inf  # not yet evaluated: only the limit bounds the search
    x = guess if guess is not None and 0 < direction * (guess - start) < direction * (
        limit - start) else start + direction * min(bound / 4, abs(limit - start) / 2)
    step = max(0.05 * abs(x - start), tol)
    f_x = score(x)
    if f_x > 0:  # widen outwards until rejected
        while f_x > 0:
            inner, f_inner = x, f_x
            x = inner + direction * step
            step *= 2
            if direction * (x - limit) >= 0:
                x = limit
                f_x = score(x)
                if f_x > 0:
                    return math.copysign(math.inf, direction)
                break
            f_x = score(x)
        outer, f_outer = x, f_x
    else:  # narrow inwards until accepted (start itself always is)
        while f_x <= 0:
            outer, f_outer = x, f_x
            x = outer - direction * step
            step *= 2
            if direction * (x - start) <= 0:
                break
            f_x = score(x)
        else:
            inner, f_inner = x, f_x
    # Secant steps on the score within [inner, outer], each followed by a probe just across
    # the new point, which closes the bracket as soon as a step lands within the
    # resolution; a bisection whenever that fails to halve it (the score is a step function
    # at fine scales, and regula falsi alone can stall on one side).
    while abs(outer - inner) > tol:
        width = abs(outer - inner)
        if math.isfinite(f_inner) and math.isfinite(f_outer):
            x = outer - f_outer * (outer - inner) / (f_outer - f_inner)
        else:
            x = (inner + outer) / 2
        lo, hi = sorted((inner, outer))
        x = min(max(x, lo + tol / 4), hi - tol / 4)
        f_x = score(x)
        if f_x > 0:
            inner, f_inner = x, f_x
            probe = x + direction * 0.9 * tol
        else:
            outer, f_outer = x, f_x
            probe = x - direction * 0.9 * tol
        lo, hi = sorted((inner, outer))
        if abs(outer - inner) > tol and lo < probe < hi:
            f_probe = score(probe)
            if f_probe > 0:
                inner, f_inner = probe, f_probe
            else:
                outer, f_outer = probe, f_probe
        if abs(outer - inner) > width / 2:
            mid = (inner + outer) / 2
            f_mid = score(mid)
            if f_mid > 0:
                inner, f_inner = mid, f_mid
            else:
                outer, f_outer = mid, f_mid
    return outer
