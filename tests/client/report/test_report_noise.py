"""The report noise: OpenDP discrete Laplace with the variance the aggregator assumes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from worktally.client.report import noise
from worktally.client.wire import schema

SAMPLES = 12_000
# The sample variance of n draws has a relative standard error of sqrt((kurtosis - 1) / n);
# discrete Laplace has kurtosis about 6, so sqrt(5 / 12000) ≈ 2.0%. A 10% tolerance is five
# standard errors: a correct sampler fails it about once in millions of runs, while a scale
# off by 10% (variance off by 21%) fails it every time.
VARIANCE_TOLERANCE = 0.10


@pytest.mark.parametrize("metric_name", ["active", "shipped_token_share_pm"])
def test_empirical_variance_matches_schema(metric_name: str) -> None:
    spec = schema.noise_parameters(schema.DEFAULT_EPSILON)[metric_name]
    meas = noise.measurement(spec)
    true_value = 1 if metric_name == "active" else 500
    draws = [meas(true_value) - true_value for _ in range(SAMPLES)]
    mean = sum(draws) / SAMPLES
    variance = sum((d - mean) ** 2 for d in draws) / (SAMPLES - 1)
    assert abs(variance / spec.variance - 1) < VARIANCE_TOLERANCE, (variance, spec.variance)
    # The noise is centred: the mean is within five standard errors of zero.
    assert abs(mean) < 5 * math.sqrt(spec.variance / SAMPLES)


def test_opendp_certifies_the_budget_split() -> None:
    specs = schema.noise_parameters(8.0)
    certified = [noise.certified_epsilon(m, specs[m.name]) for m in schema.METRICS]
    assert sum(certified) == pytest.approx(8.0, rel=1e-9)
    for metric, eps in zip(schema.METRICS, certified, strict=True):
        assert eps == pytest.approx(specs[metric.name].epsilon, rel=1e-9)


def test_add_noise_changes_values_and_reports_the_spend() -> None:
    clipped = [m.upper // 2 for m in schema.METRICS]
    out = noise.add_noise(clipped, 8.0)
    assert len(out.values) == len(schema.METRICS)
    assert out.values != tuple(clipped)
    assert out.epsilon == pytest.approx(8.0)
    assert out.delta == 0.0
    specs = schema.noise_parameters(8.0)
    for metric, value in zip(schema.METRICS, out.values, strict=True):
        low, high = schema.accepted_range(metric, specs[metric.name])
        assert low <= value <= high


def test_add_noise_refuses_unclipped_values() -> None:
    values = [m.upper for m in schema.METRICS]
    values[1] = schema.METRICS[1].upper + 1
    with pytest.raises(ValueError, match="not clipped"):
        noise.add_noise(values, 8.0)


def test_accepted_range_widens_the_bounds_by_sixty_scales() -> None:
    spec = schema.noise_parameters(8.0)["sessions_no_context"]
    metric = schema.METRICS_BY_NAME["sessions_no_context"]
    low, high = schema.accepted_range(metric, spec)
    assert low == -math.ceil(60 * spec.scale)
    assert high == 30 + math.ceil(60 * spec.scale)


def test_no_report_module_uses_python_random() -> None:
    report_dir = Path(noise.__file__).parent
    for source in report_dir.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "import random" not in text and "from random" not in text, source.name


def test_a_tokenmaxxing_cohort_stands_out_beyond_its_error_bars() -> None:
    """The demo's premise under the default budget: 16 people per cohort, a ~670‰ contrast.

    The accuracy model (client/report/accuracy.py) gives a 99% chance of disjoint 95%
    intervals per trial; requiring 32 of 40 trials fails by chance with probability below
    1e-9, but fails almost surely if the budget weights or scales stop supporting it.
    """
    specs = schema.noise_parameters(schema.DEFAULT_EPSILON)
    spec = specs["shipped_token_share_pm"]
    meas = noise.measurement(spec)
    half = 1.96 * math.sqrt(spec.variance / 16)
    normal = [650 + 15 * i for i in range(16)]  # 650..875‰ of tokens ship
    maxxers = [20 + 10 * i for i in range(16)]  # 20..170‰
    disjoint = 0
    for _ in range(40):
        mean_normal = sum(meas(v) for v in normal) / 16
        mean_maxxers = sum(meas(v) for v in maxxers) / 16
        disjoint += mean_normal - half > mean_maxxers + half
    assert disjoint >= 32, disjoint
