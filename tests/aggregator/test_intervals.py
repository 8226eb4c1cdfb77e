"""The 95% intervals hold: simulated releases with OpenDP-sampled noise cover the truth ~95%."""

from __future__ import annotations

import opendp.prelude as dp
import pytest

from worktally.aggregator.intervals import combine_sums, mean_estimate, sum_estimate
from worktally.client.wire.schema import METRICS_BY_NAME, noise_parameters

RELEASES = 3000
# With 3000 releases the coverage estimate has a standard error of 0.004; ±0.016 is 4 of them.
TOLERANCE = 0.016


def opendp_noise(scale: float, count: int) -> list[int]:
    """`count` discrete Laplace draws from OpenDP's exact sampler (never Python's random)."""
    dp.enable_features("contrib")
    measurement = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")),
                                    dp.l1_distance(T="i64"), scale=scale)
    return list(measurement([0] * count))


@pytest.mark.parametrize(("metric", "n", "epsilon"), [
    ("ai_committed_share_pm", 10, 8.0),
    ("ai_tokens_k", 25, 8.0),
    ("sessions_shipped", 12, 2.0),
])
def test_mean_and_sum_intervals_cover_the_truth_95_percent(metric: str, n: int,
                                                           epsilon: float) -> None:
    spec = METRICS_BY_NAME[metric]
    noise = noise_parameters(epsilon)[metric]
    truth = [spec.lower + (spec.upper - spec.lower) * (i % 7 + 1) // 9 for i in range(n)]
    true_sum = sum(truth)
    samples = opendp_noise(noise.scale, RELEASES * n)
    mean_hits = sum_hits = 0
    for r in range(RELEASES):
        total = true_sum + sum(samples[r * n:(r + 1) * n])
        mean = mean_estimate(total, n, noise.variance, spec.lower, spec.upper)
        whole = sum_estimate(total, n, noise.variance, spec.lower, spec.upper)
        mean_hits += mean.low <= true_sum / n <= mean.high
        sum_hits += whole.low <= true_sum <= whole.high
    assert abs(mean_hits / RELEASES - 0.95) < TOLERANCE, mean_hits / RELEASES
    assert abs(sum_hits / RELEASES - 0.95) < TOLERANCE, sum_hits / RELEASES


def test_org_totals_from_teams_with_different_budgets_cover_95_percent() -> None:
    spec = METRICS_BY_NAME["ai_lines_committed"]
    teams = [(10, noise_parameters(8.0)[spec.name]), (14, noise_parameters(3.0)[spec.name])]
    truths = [400 * n for n, _ in teams]
    draws = [opendp_noise(noise.scale, RELEASES * n) for n, noise in teams]
    hits = 0
    for r in range(RELEASES):
        parts = []
        for (n, noise), truth, noise_draws in zip(teams, truths, draws, strict=True):
            total = truth + sum(noise_draws[r * n:(r + 1) * n])
            parts.append((float(total), n * noise.variance))
        org = combine_sums(parts, 0, 24 * spec.upper)
        hits += org.low <= sum(truths) <= org.high
    assert abs(hits / RELEASES - 0.95) < TOLERANCE, hits / RELEASES


def test_the_schema_variance_matches_opendp_samples() -> None:
    noise = noise_parameters(8.0)["ai_tokens_k"]
    draws = opendp_noise(noise.scale, 40_000)
    mean = sum(draws) / len(draws)
    empirical = sum((d - mean) ** 2 for d in draws) / (len(draws) - 1)
    assert abs(empirical / noise.variance - 1) < 0.05


def test_intervals_are_trimmed_to_what_clipped_values_allow() -> None:
    estimate = mean_estimate(total=-40, n=4, per_report_variance=100.0, lower=0, upper=1)
    assert (estimate.low, estimate.high) == (0, 0)
    assert estimate.value == -10
    wide = sum_estimate(total=5, n=10, per_report_variance=1e6, lower=0, upper=1)
    assert (wide.low, wide.high) == (0, 10)
