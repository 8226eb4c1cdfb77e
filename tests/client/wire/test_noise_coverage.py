"""The 95% intervals hold under real noise: simulated releases with OpenDP's sampler.

A 16-person team is released 2000 times through the whole path (measurement, per-entry
noise, the collector's decoding, estimate_release) for each noise mode. Counts and volumes
must cover as often as the exact noise distribution says (a little over 95%, since the
noise is integer); shares at least 95%, and the well-measured main share close to it.

Tolerances are five binomial standard errors of the coverage estimate: a correct model
fails one of these checks with probability about 1e-5 per run, while an interval 2.5 points
too narrow fails almost surely.
"""

from __future__ import annotations

import math

import opendp.prelude as dp
import pytest

from worktally.client.wire.discrete_laplace import DiscreteLaplace
from worktally.client.wire.measurement import (
    METRIC_NAMES,
    SECURE_METRICS,
    MetricKind,
    coordinates,
    entry_noise,
    measurement,
    released_coordinates,
)
from worktally.client.wire.noise_model import LOCAL, estimate_release, share_interval

RELEASES = 2000
N = 16
EPSILON = 4.0
SIGMAS = 5.0
# Local mode uses the normal approximation; allow it this much beyond sampling error.
LOCAL_APPROXIMATION = 0.01
# Share sets are exact but their test statistic is discrete: coverage sits a little above
# 95% even for the main share.
SHARE_DISCRETENESS = 0.005

# 14 of 16 people used AI, 11 had observed lines; shares and volumes spread over the range.
PEOPLE = [measurement({
    "ai_active": int(i < 14), "shipped_token_share_pm": 30 + 61 * i,
    "no_context_session_share_pm": 900 - 55 * i, "lines_observed": int(i % 16 < 11),
    "ai_line_share_pm": 100 + 50 * i, "ai_tokens_k_per_week": 300 * i,
    "ai_lines_committed_per_week": 20 * i, "ai_lines_surviving_per_week": 11 * i,
}) for i in range(N)]
TRUE_SUMS = [sum(column) for column in zip(*PEOPLE, strict=True)]
TRUE_COORDINATES = released_coordinates(TRUE_SUMS)


def truth(metric_index: int) -> float:
    metric = SECURE_METRICS[metric_index]
    if metric.kind is MetricKind.FLAG:
        return TRUE_COORDINATES[metric_index]
    if metric.kind is MetricKind.VOLUME:
        return TRUE_SUMS[metric_index] / N
    gate = METRIC_NAMES.index(metric.gate or "")
    return metric.centre + TRUE_COORDINATES[metric_index] / TRUE_COORDINATES[gate]


def opendp_noise(scale: float, count: int) -> list[int]:
    """`count` discrete Laplace draws from OpenDP's exact sampler (never Python's random)."""
    dp.enable_features("contrib")
    mechanism = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")),
                                  dp.l1_distance(T="i64"), scale=scale)
    return list(mechanism([0] * count))


def tolerance(p: float) -> float:
    return SIGMAS * math.sqrt(p * (1 - p) / RELEASES)


def simulated_draws(copies: int) -> list[list[int]]:
    """Per release, one noise value per coordinate: the sum of `copies` draws (n in local
    mode, where each person noised their own report)."""
    per_release = N if copies == LOCAL else copies
    columns = []
    for coordinate in coordinates(EPSILON):
        flat = opendp_noise(coordinate.scale, RELEASES * per_release)
        columns.append([sum(flat[r * per_release:(r + 1) * per_release])
                        for r in range(RELEASES)])
    return [list(row) for row in zip(*columns, strict=True)]


@pytest.mark.parametrize("copies", [1, 2, LOCAL], ids=["helper", "both", "local"])
def test_released_intervals_cover_the_truth(copies: int) -> None:
    scales = [c.scale for c in coordinates(EPSILON)]
    shown = [0] * len(SECURE_METRICS)  # the trimmed interval an admin sees covers the truth
    untrimmed = [0] * len(SECURE_METRICS)
    for draws in simulated_draws(copies):
        noisy_sums = [s + e for s, e in zip(TRUE_SUMS, entry_noise(draws), strict=True)]
        noisy = released_coordinates(noisy_sums)
        estimates = estimate_release(noisy, N, EPSILON, copies)
        for i, metric in enumerate(SECURE_METRICS):
            estimate, true = estimates[metric.name], truth(i)
            shown[i] += estimate.low <= true <= estimate.high
            if metric.kind is MetricKind.SHARE:
                gate = METRIC_NAMES.index(metric.gate or "")
                low, high = share_interval(noisy[i], noisy[gate], metric.centre, metric.bound,
                                           scales[i], scales[gate], copies, N)
                untrimmed[i] += low <= true <= high
            else:
                untrimmed[i] += abs(estimate.raw - true) <= estimate.half_width + 1e-9
    allowance = LOCAL_APPROXIMATION if copies == LOCAL else 0.0
    for i, metric in enumerate(SECURE_METRICS):
        covered, seen = untrimmed[i] / RELEASES, shown[i] / RELEASES
        if metric.kind is MetricKind.SHARE:
            assert covered >= 0.95 - tolerance(0.95) - allowance, (metric.name, covered)
        else:
            # The exact coverage of C̃ ± q (in local mode: the normal approximation's 95%).
            expected = 0.95
            if copies != LOCAL:
                dist = DiscreteLaplace(scales[i], copies)
                expected = dist.coverage(dist.abs_quantile(0.95))
            assert abs(covered - expected) <= tolerance(expected) + allowance, (
                metric.name, covered, expected)
        # Trimming to the range (and showing the whole range when the interval misses it)
        # only adds coverage.
        assert seen >= covered, metric.name
    shipped = METRIC_NAMES.index("shipped_token_share_pm")
    covered = untrimmed[shipped] / RELEASES
    assert covered <= 0.95 + tolerance(0.95) + SHARE_DISCRETENESS + allowance, covered
