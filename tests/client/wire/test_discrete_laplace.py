"""Exact discrete Laplace: the closed forms for one and two copies against brute force."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.wire.discrete_laplace import DiscreteLaplace

SCALES = [0.3, 0.806, 1.1363, 4.17, 30.0]


def one_copy_pmf(scale: float, k: int) -> float:
    """P(k) = (1 - a)/(1 + a)·a^|k| written out directly, independent of the class."""
    a = math.exp(-1 / scale)
    return (1 - a) / (1 + a) * a ** abs(k)


def support_radius(scale: float) -> int:
    return int(45 * scale) + 40  # a^radius < 1e-19: the rest of the mass is negligible


@pytest.mark.parametrize("scale", SCALES)
def test_two_copies_pmf_is_the_convolution_of_one_copy(scale: float) -> None:
    two = DiscreteLaplace(scale, 2)
    radius = support_radius(scale)
    for z in range(-25, 26):
        brute = math.fsum(one_copy_pmf(scale, x) * one_copy_pmf(scale, z - x)
                          for x in range(-radius, radius + 1))
        assert two.pmf(z) == pytest.approx(brute, rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("copies", [1, 2])
@pytest.mark.parametrize("scale", SCALES)
def test_tails_are_sums_of_the_pmf(scale: float, copies: int) -> None:
    dist = DiscreteLaplace(scale, copies)
    radius = support_radius(scale) * copies
    pmf = {k: dist.pmf(k) for k in range(-radius, radius + 1)}
    assert math.fsum(pmf.values()) == pytest.approx(1.0, abs=1e-12)
    for t in range(-30, 31):
        brute = math.fsum(p for k, p in pmf.items() if k >= t)
        assert dist.sf(t) == pytest.approx(brute, rel=1e-9, abs=1e-15)
    variance = math.fsum(k * k * p for k, p in pmf.items())
    assert dist.variance == pytest.approx(variance, rel=1e-9)


@pytest.mark.parametrize("copies", [1, 2])
@pytest.mark.parametrize("scale", [*SCALES, 555.5, 31250.0])
def test_the_95_quantile_of_the_absolute_value_is_the_smallest_that_covers(
        scale: float, copies: int) -> None:
    dist = DiscreteLaplace(scale, copies)
    q = dist.abs_quantile(0.95)
    assert dist.coverage(q) >= 0.95
    assert q == 0 or dist.coverage(q - 1) < 0.95
    if copies == 1:
        # Continuous Laplace: ln(20)·scale; the discrete quantile sits within one step of it.
        assert abs(q - math.log(20) * scale) <= 1 + 1e-9 * scale or scale < 1


def test_large_scales_keep_their_precision() -> None:
    dist = DiscreteLaplace(1e6)
    # 1 - a would lose about ten digits if computed as 1 - exp(-1e-6).
    assert dist.pmf(0) == pytest.approx(math.tanh(0.5e-6), rel=1e-12)
    assert dist.sf(1) == pytest.approx((1 - dist.pmf(0)) / 2, rel=1e-12)
    assert dist.variance == pytest.approx(2e12, rel=1e-6)


@given(st.floats(min_value=0.05, max_value=1e5), st.sampled_from([1, 2]),
       st.integers(min_value=-10**6, max_value=10**6))
def test_tails_are_monotone_and_symmetric(scale: float, copies: int, t: int) -> None:
    dist = DiscreteLaplace(scale, copies)
    assert 0.0 <= dist.sf(t + 1) <= dist.sf(t) <= 1.0
    # P(Z >= t) + P(Z >= 1 - t) = P(Z >= t) + P(Z <= t - 1) = 1 by symmetry.
    assert dist.sf(t) + dist.sf(1 - t) == pytest.approx(1.0, abs=1e-12)
    assert dist.pmf(t) == dist.pmf(-t)


def test_support_holds_all_but_the_tail() -> None:
    dist = DiscreteLaplace(4.17, 2)
    support = dist.support(1e-12)
    assert [k for k, _ in support] == list(range(len(support)))
    assert math.fsum(w for _, w in support) == pytest.approx(1.0, abs=1e-11)


@pytest.mark.parametrize(("scale", "copies"), [(0.0, 1), (-1.0, 1), (math.inf, 1), (1.0, 3),
                                               (1.0, 0)])
def test_bad_parameters_are_refused(scale: float, copies: int) -> None:
    with pytest.raises(ValueError):
        DiscreteLaplace(scale, copies)
