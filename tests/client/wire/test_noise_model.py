"""The noise model: intervals against their definitions, the release estimates, the tuning the
schema's weights were chosen for, and the accuracy tables."""

from __future__ import annotations

import math
import time

import pytest

from worktally.client.wire.discrete_laplace import DiscreteLaplace
from worktally.client.wire.errors import MeasurementError
from worktally.client.wire.measurement import (
    METRIC_NAMES,
    METRICS_BY_NAME,
    SECURE_METRICS,
    MetricKind,
    coordinates,
)
from worktally.client.wire.noise_model import (
    LOCAL,
    TEAM_SIZES,
    Z,
    accuracy_markdown,
    count_interval,
    estimate_release,
    expected_half_width,
    people_needed,
    share_interval,
    sum_half_width,
    volume_mean_interval,
)

SHIPPED = METRICS_BY_NAME["shipped_token_share_pm"]
QUARTER_EPSILON = 4.0


def brute_pvalue(x_pmf: dict[int, float], y_pmf: dict[int, float], d: float, t: float) -> float:
    """P(|X - d·Y| >= t) by summing over every (x, y) pair."""
    return math.fsum(px * py for x, px in x_pmf.items() for y, py in y_pmf.items()
                     if abs(x - d * y) >= t - 1e-9)


def pmf_table(scale: float, copies: int) -> dict[int, float]:
    dist = DiscreteLaplace(scale, copies)
    radius = int(20 * scale * copies) + 15
    return {k: dist.pmf(k) for k in range(-radius, radius + 1)}


@pytest.mark.parametrize("copies", [1, 2])
@pytest.mark.parametrize(("t_obs", "c_obs"), [(-60.0, 6.0), (35.0, 9.0), (0.0, 4.0)])
def test_a_share_interval_is_the_hull_of_the_accepted_means(copies: int, t_obs: float,
                                                            c_obs: float) -> None:
    """Against the definition {m : P(|X - (m-c)Y| >= |T - (m-c)C|) > 0.05}, on a fine grid."""
    centre, bound, scale_t, scale_c = 50, 100, 3.0, 0.6
    x_pmf, y_pmf = pmf_table(scale_t, copies), pmf_table(scale_c, copies)
    low, high = share_interval(t_obs, c_obs, centre, bound, scale_t, scale_c, copies, 10)

    def accepted(m: float) -> bool:
        d = m - centre
        return brute_pvalue(x_pmf, y_pmf, d, abs(t_obs - d * c_obs)) > 0.05

    grid = [low - 5 + i * (high - low + 10) / 80 for i in range(81)]
    inside = [m for m in grid if accepted(m)]
    assert inside and min(inside) >= low and max(inside) <= high
    # Each end is within the search resolution of an accepted point: the hull is not padded.
    step = 2e-4 * bound
    assert accepted(low + step) and not accepted(low)
    assert accepted(high - step) and not accepted(high)


def test_a_share_interval_without_people_is_the_whole_line() -> None:
    assert share_interval(100.0, 0.0, 500, 1000, 555.0, 1.1, 1, 16) == (-math.inf, math.inf)
    assert share_interval(100.0, -2.0, 500, 1000, 555.0, 1.1, LOCAL, 16) == (-math.inf,
                                                                              math.inf)


def test_a_count_lost_in_its_noise_leaves_the_share_unbounded() -> None:
    # C̃ = 1 with count noise of scale 30: the data cannot bound the mean.
    low, high = share_interval(-200.0, 1.0, 500, 1000, 50.0, 30.0, 1, 16)
    assert math.isinf(low) or math.isinf(high)


@pytest.mark.parametrize("copies", [1, 2])
def test_a_point_estimate_far_outside_the_range_still_gets_its_interval(copies: int) -> None:
    # C̃ = 1 after a large negative count draw: m̂ = 500 + 90_000 is far beyond the range.
    low, high = share_interval(90_000.0, 1.0, 500, 1000, 50.0, 0.5, copies, 16)
    assert low <= 90_500 <= high
    assert low > 1000  # the data exclude the whole range: estimate_release shows it all


def test_local_mode_share_interval_solves_the_normal_fieller_quadratic() -> None:
    n, t_obs, c_obs, scale_t, scale_c = 40, -4000.0, 37.0, 400.0, 1.5
    low, high = share_interval(t_obs, c_obs, 500, 1000, scale_t, scale_c, LOCAL, n)
    var_t = n * DiscreteLaplace(scale_t).variance
    var_c = n * DiscreteLaplace(scale_c).variance
    for m in (low, high):
        d = m - 500
        assert (t_obs - d * c_obs) ** 2 == pytest.approx(Z**2 * (var_t + d * d * var_c),
                                                         rel=1e-9)
    assert low < 500 + t_obs / c_obs < high


@pytest.mark.parametrize("copies", [1, 2])
def test_count_and_volume_intervals_use_the_exact_quantile(copies: int) -> None:
    dist = DiscreteLaplace(4.17, copies)
    q = dist.abs_quantile(0.95)
    assert count_interval(11.0, 4.17, copies, 16) == (11 - q, 11 + q)
    assert sum_half_width(4.17, copies, 16) == q
    assert volume_mean_interval(1600.0, 4.17, copies, 16) == ((1600 - q) / 16,
                                                              (1600 + q) / 16)


def test_local_mode_sums_use_the_normal_approximation_over_n_draws() -> None:
    sigma = math.sqrt(25 * DiscreteLaplace(3.0).variance)
    assert sum_half_width(3.0, LOCAL, 25) == pytest.approx(Z * sigma)
    assert count_interval(10.0, 3.0, LOCAL, 25)[1] == pytest.approx(10 + Z * sigma)


def test_noise_copies_must_be_one_two_or_local() -> None:
    with pytest.raises(MeasurementError, match="copies"):
        sum_half_width(3.0, 3, 10)
    with pytest.raises(MeasurementError, match="copies"):
        estimate_release([0] * len(SECURE_METRICS), 16, 4.0, 5)


def release(truth: dict[str, float], n: int) -> list[int]:
    """Noise-free coordinates for a team whose flags count `truth` people and whose shares
    and volumes have the given means (every gated person at the mean)."""
    out = []
    for m in SECURE_METRICS:
        if m.kind is MetricKind.FLAG:
            out.append(int(truth[m.name]))
        elif m.kind is MetricKind.SHARE:
            out.append(round((truth[m.name] - m.centre) * truth[m.gate or ""]))
        else:
            out.append(round(truth[m.name] * n))
    return out


TRUTH = {"ai_active": 16, "shipped_token_share_pm": 750, "no_context_session_share_pm": 250,
         "lines_observed": 12, "ai_line_share_pm": 400, "ai_tokens_k_per_week": 1500,
         "ai_lines_committed_per_week": 120, "ai_lines_surviving_per_week": 80}


@pytest.mark.parametrize("copies", [1, 2, LOCAL])
def test_a_noise_free_release_estimates_the_truth_inside_its_intervals(copies: int) -> None:
    estimates = estimate_release(release(TRUTH, 16), 16, QUARTER_EPSILON, copies)
    assert list(estimates) == list(METRIC_NAMES)
    for name, estimate in estimates.items():
        assert estimate.value == pytest.approx(TRUTH[name])
        assert estimate.low <= TRUTH[name] <= estimate.high
        assert estimate.half_width > 0
        assert estimate.people_needed >= 1


def test_at_sixteen_people_the_main_share_is_informative_and_the_volumes_are_not() -> None:
    estimates = estimate_release(release(TRUTH, 16), 16, QUARTER_EPSILON, 1)
    assert estimates["shipped_token_share_pm"].informative
    assert estimates["ai_active"].informative
    assert not estimates["ai_tokens_k_per_week"].informative
    assert estimates["ai_tokens_k_per_week"].people_needed > 16


def test_values_are_clamped_and_raw_values_kept() -> None:
    coords = release(TRUTH, 16)
    coords[0] = 19  # ai_active counted above n by noise
    coords[5] = -4000  # a volume sum pushed below zero
    estimates = estimate_release(coords, 16, QUARTER_EPSILON, 1)
    active = estimates["ai_active"]
    assert (active.value, active.raw, active.high) == (16, 19, 16)
    tokens = estimates["ai_tokens_k_per_week"]
    assert tokens.value == 0 and tokens.raw == -250 and tokens.low == 0


def test_a_share_without_its_denominator_is_uninformative_over_the_whole_range() -> None:
    coords = release(TRUTH, 16)
    coords[3] = -1  # lines_observed came out below 1
    share = estimate_release(coords, 16, QUARTER_EPSILON, 1)["ai_line_share_pm"]
    assert (share.low, share.high, share.informative) == (0, 1000, False)
    assert math.isinf(share.half_width)
    assert share.value == 500


def test_an_interval_that_misses_the_range_shows_the_whole_range() -> None:
    coords = release(TRUTH, 16)
    coords[0] = 40  # C̃ = 40 ± 2 lies wholly above n = 16
    active = estimate_release(coords, 16, QUARTER_EPSILON, 1)["ai_active"]
    assert (active.low, active.high, active.informative) == (0, 16, False)


def test_release_inputs_are_checked() -> None:
    with pytest.raises(MeasurementError, match="coordinates"):
        estimate_release([1, 2], 16, 4.0, 1)
    with pytest.raises(MeasurementError, match="at least one report"):
        estimate_release(release(TRUTH, 16), 0, 4.0, 1)


@pytest.mark.parametrize("true_mean", [50, 750])
def test_sixteen_people_get_the_shipped_share_within_110_per_mille(true_mean: int) -> None:
    """The tuning the schema's weights were chosen for: quarterly ε = 4, the helper's noise."""
    assert expected_half_width(SHIPPED, 16, QUARTER_EPSILON, 1, true_mean) <= 110


def test_half_widths_fall_with_team_size_and_grow_with_noise() -> None:
    for metric in SECURE_METRICS:
        for n in (16, 50):
            helper = expected_half_width(metric, n, QUARTER_EPSILON, 1)
            both = expected_half_width(metric, n, QUARTER_EPSILON, 2)
            local = expected_half_width(metric, n, QUARTER_EPSILON, LOCAL)
            assert helper <= both <= local, metric.name
    for metric in (SHIPPED, METRICS_BY_NAME["ai_lines_committed_per_week"]):
        assert expected_half_width(metric, 200, 4.0, 1) < expected_half_width(metric, 50, 4.0, 1)
    # A count's noise does not depend on the team size (its range does).
    assert expected_half_width("ai_active", 10, 4.0, 1) == expected_half_width("ai_active",
                                                                               200, 4.0, 1)


def test_a_volume_mean_half_width_is_the_sum_quantile_over_n() -> None:
    scale = {c.metric: c.scale for c in coordinates(4.0)}["ai_tokens_k_per_week"]
    q = DiscreteLaplace(scale).abs_quantile(0.95)
    assert expected_half_width("ai_tokens_k_per_week", 50, 4.0, 1) == q / 50


@pytest.mark.parametrize(("metric", "copies", "mean"), [
    ("shipped_token_share_pm", 1, 750.0), ("shipped_token_share_pm", 2, 50.0),
    ("ai_active", 1, None), ("ai_active", LOCAL, None), ("ai_tokens_k_per_week", 2, None),
    ("no_context_session_share_pm", LOCAL, 300.0),
])
def test_people_needed_is_the_smallest_team_within_ten_percent(metric: str, copies: int,
                                                              mean: float | None) -> None:
    n = people_needed(metric, QUARTER_EPSILON, copies, mean)
    spec = METRICS_BY_NAME[metric]

    def target(size: int) -> float:
        return 0.1 * (size if spec.kind is MetricKind.FLAG else spec.bound)

    assert expected_half_width(metric, n, QUARTER_EPSILON, copies, mean) <= target(n)
    assert n == 1 or expected_half_width(metric, n - 1, QUARTER_EPSILON, copies,
                                         mean) > target(n - 1)


def test_unknown_metrics_are_refused() -> None:
    with pytest.raises(MeasurementError, match="not a metric"):
        expected_half_width("sessions_shipped", 16, 4.0, 1)


def test_accuracy_tables_are_fast_labelled_and_complete() -> None:
    started = time.perf_counter()
    text = accuracy_markdown()
    assert time.perf_counter() - started < 1.0
    assert "computed by `worktally.client.wire.noise_model.accuracy_markdown()`" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == 3 * len(SECURE_METRICS) * 3
    assert all(row.count("±") == len(TEAM_SIZES) for row in rows)
    for title in ("Weekly releases (ε = 0.308", "Monthly releases (ε = 1.33",
                  "Quarterly releases (ε = 4 "):
        assert title in text
    assert accuracy_markdown() == text


def test_accuracy_table_cells_are_the_model_numbers() -> None:
    text = accuracy_markdown()
    quarterly = text[text.index("Quarterly"):]
    row = next(line for line in quarterly.splitlines()
               if line.startswith("| `shipped_token_share_pm`") and "| helper |" in line)
    cells = [c.strip() for c in row.split("|")[3:-1]]
    expected = [f"±{expected_half_width(SHIPPED, n, 4.0, 1):,.0f}" for n in TEAM_SIZES]
    assert cells == expected  # informative at every size: no dagger
    weekly = text[text.index("Weekly"):text.index("Monthly")]
    assert "±∞ †" in weekly
