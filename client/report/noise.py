"""Differential privacy noise from OpenDP's exact integer samplers, one measurement per metric.

Each metric gets discrete Laplace noise with the scale `schema.noise_parameters` derives from
its clipping bounds and budget share. OpenDP's privacy map, not our arithmetic, certifies the
ε each measurement spends; Python's `random` is never used for noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import opendp.prelude as dp

from worktally.client.wire.privacy import DEFAULT_PRIVACY, Mechanism
from worktally.client.wire.schema import METRICS, MetricSpec, NoiseSpec, noise_parameters

dp.enable_features("contrib")

# Float rounding in OpenDP's map may exceed the nominal share by a few ulps; more than this
# relative slack means the scales are wrong, and nothing is released.
EPSILON_SLACK = 1e-9


class NoiseCalibrationError(RuntimeError):
    """The measurements would spend more ε than the budget they were built for (a bug)."""


@dataclass(frozen=True)
class NoisedVector:
    values: tuple[int, ...]
    # ε as certified by OpenDP's privacy maps, summed over the metrics (basic composition).
    epsilon: float
    delta: float
    mechanism: str


def measurement(noise: NoiseSpec) -> dp.Measurement:
    """Discrete Laplace on one i64 value (i64: token counts overflow OpenDP's default i32)."""
    if noise.mechanism != Mechanism.DISCRETE_LAPLACE:
        raise ValueError(f"unsupported mechanism {noise.mechanism!r}")
    return dp.m.make_laplace(
        dp.atom_domain(T="i64"), dp.absolute_distance(T="i64"), scale=noise.scale
    )


def certified_epsilon(metric: MetricSpec, noise: NoiseSpec) -> float:
    """The ε OpenDP proves for one metric when a person's value may move across its bounds."""
    return float(measurement(noise).map(metric.sensitivity))


def add_noise(values: Sequence[int], epsilon: float, delta: float = 0.0,
              mechanism: str = DEFAULT_PRIVACY.mechanism) -> NoisedVector:
    """Noise a clipped vector (schema.METRICS order) under a total budget of ε (and δ)."""
    if len(values) != len(METRICS):
        raise ValueError(f"expected {len(METRICS)} values, got {len(values)}")
    specs = noise_parameters(epsilon, delta, mechanism)
    noised: list[int] = []
    spent = 0.0
    for metric, value in zip(METRICS, values, strict=True):
        if not metric.lower <= value <= metric.upper:
            raise ValueError(f"{metric.name} is not clipped: {value}")
        noise = specs[metric.name]
        meas = measurement(noise)
        spent += float(meas.map(metric.sensitivity))
        noised.append(int(meas(int(value))))
    if spent > epsilon * (1 + EPSILON_SLACK):
        raise NoiseCalibrationError(f"noise would spend ε={spent}, over the budget {epsilon}")
    # Discrete Laplace is pure ε-DP: it spends no δ whatever the cohort allows.
    return NoisedVector(tuple(noised), min(spent, epsilon), 0.0, mechanism)
