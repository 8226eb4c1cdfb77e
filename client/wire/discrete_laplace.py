"""Exact discrete Laplace arithmetic: the pmf and tails of one draw and of the sum of two.

With scale b and a = e^(-1/b), one draw has P(k) = (1-a)/(1+a)·a^|k|. The sum of two iid
draws (both aggregators noising) has the closed form
P(z) = ((1-a)/(1+a))²·a^|z|·(|z| + β), β = 1 + 2a²/(1-a²) = (1+a²)/(1-a²),
obtained by splitting the convolution sum at 0 and z (the tests check it against brute-force
convolution). Its upper tail sums the geometric series:
P(Z ≥ t) = ((1-a)/(1+a))²·a^t·[(t(1-a) + a)/(1-a)² + β/(1-a)] for t ≥ 1.
Everything is computed from 1/b with exp/expm1, so scales of 10⁵ (volumes at a small ε)
lose no precision to 1 - a.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

EXACT_COPIES = (1, 2)


@dataclass(frozen=True)
class DiscreteLaplace:
    """The sum of `copies` (1 or 2) independent discrete Laplace draws of `scale`."""

    scale: float
    copies: int = 1

    def __post_init__(self) -> None:
        if self.copies not in EXACT_COPIES:
            raise ValueError("exact discrete Laplace sums are for 1 or 2 copies")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError("the scale must be positive and finite")

    @cached_property
    def _params(self) -> tuple[float, float, float, float]:
        inv = 1.0 / self.scale
        alpha = math.exp(-inv)
        one_minus = -math.expm1(-inv)  # 1 - a without cancellation
        k = one_minus / (1.0 + alpha)
        return inv, alpha, one_minus, k

    @property
    def alpha(self) -> float:
        return self._params[1]

    @property
    def variance(self) -> float:
        _, alpha, one_minus, _ = self._params
        return self.copies * 2.0 * alpha / one_minus**2

    def pmf(self, z: int) -> float:
        inv, alpha, one_minus, k = self._params
        a = abs(z)
        if self.copies == 1:
            return k * math.exp(-a * inv)
        beta = (1.0 + alpha * alpha) / (one_minus * (1.0 + alpha))
        return k * k * math.exp(-a * inv) * (a + beta)

    def sf(self, t: int) -> float:
        """P(Z ≥ t) for an integer t, exactly (up to float rounding)."""
        if t <= 0:
            return 1.0 - self._upper(1 - t)
        return self._upper(t)

    def _upper(self, t: int) -> float:
        inv, slope, const = self.tail_coefficients
        return math.exp(-t * inv) * (slope * t + const)

    @cached_property
    def tail_coefficients(self) -> tuple[float, float, float]:
        """(1/b, p, q) with P(Z ≥ t) = e^(-t/b)·(p·t + q) for every integer t ≥ 1.

        One copy: p = 0, q = 1/(1+a). Two: p = k²/(1-a), q = k²·(a/(1-a)² + β/(1-a)), with
        k = (1-a)/(1+a). Hot loops inline this form instead of calling `sf`.
        """
        inv, alpha, one_minus, k = self._params
        if self.copies == 1:
            return inv, 0.0, 1.0 / (1.0 + alpha)
        beta = (1.0 + alpha * alpha) / (one_minus * (1.0 + alpha))
        return inv, k * k / one_minus, k * k * (alpha / one_minus**2 + beta / one_minus)

    def abs_sf(self, t: int) -> float:
        """P(|Z| ≥ t) for an integer t ≥ 1."""
        return 2.0 * self._upper(t)

    def abs_quantile(self, level: float) -> int:
        """The smallest integer q ≥ 0 with P(|Z| ≤ q) ≥ level: Z ± q covers with ≥ level."""
        miss = 1.0 - level
        low, high = -1, 1  # abs_sf(low + 1) > miss is kept as the loop invariant
        while self.abs_sf(high + 1) > miss:
            low, high = high, 2 * high
        while high - low > 1:
            mid = (low + high) // 2
            if self.abs_sf(mid + 1) > miss:
                low = mid
            else:
                high = mid
        return high

    def coverage(self, q: int) -> float:
        """P(|Z| ≤ q), the exact coverage of an interval Z ± q."""
        return 1.0 - self.abs_sf(q + 1)

    def support(self, tail: float) -> list[tuple[int, float]]:
        """(k, P(|Z| = k)) for k = 0, 1, ... until P(|Z| > k) < tail."""
        out = [(0, self.pmf(0))]
        k = 0
        while self.abs_sf(k + 1) >= tail:
            k += 1
            out.append((k, 2.0 * self.pmf(k)))
        return out
