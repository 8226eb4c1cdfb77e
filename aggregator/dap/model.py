"""The seam between the protocol and the statistics: per report schema, its metrics, the noise
one aggregator adds to its aggregate share, and the estimates a release computes.

The protocol code only ever calls `model_for(schema_version)`; `MODELS` maps versions to
`SecureModel`s, and tests may pass their own. Schema 2 is `client/wire/measurement.py`'s
report: noise from `client/wire/dp_sampling.py` (one certified OpenDP draw per released coordinate,
spread over the entries) and estimates from `client/wire/noise_model.py` (exact intervals).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from worktally.aggregator.errors import PolicyViolation
from worktally.aggregator.releases import MetricEstimate
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.dp_sampling import entry_noise_vector
from worktally.client.wire.measurement import (
    SCHEMA_VERSION_SECURE,
    SECURE_METRICS,
    MetricKind,
    SecureMetric,
    released_coordinates,
)
from worktally.client.wire.noise_model import estimate_release
from worktally.client.wire.vdaf import BoundedVec, Entry, Prio3, bounded_vec

FLAG, SHARE, VOLUME = MetricKind.FLAG, MetricKind.SHARE, MetricKind.VOLUME


@dataclass(frozen=True)
class SecureModel:
    """One report schema: its metrics (in entry order), noise and estimator."""

    schema_version: int
    metrics: tuple[SecureMetric, ...]
    noise: Callable[[SecureModel, float], list[int]]
    estimate: Callable[[SecureModel, Sequence[int], int, float, int],
                       tuple[MetricEstimate, ...]]

    @cached_property
    def entries(self) -> tuple[Entry, ...]:
        index = {m.name: i for i, m in enumerate(self.metrics)}
        return tuple(Entry(m.bound, None if m.gate is None else index[m.gate])
                     for m in self.metrics)

    @cached_property
    def vdaf(self) -> Prio3[Any, Any]:
        return bounded_vec(self.entries)

    @property
    def chunk_length(self) -> int:
        circuit = self.vdaf.flp.valid
        assert isinstance(circuit, BoundedVec)
        return circuit.chunk_length

    def draw_noise(self, epsilon_release: float) -> list[int]:
        return self.noise(self, epsilon_release)

    def estimates(self, aggregate: Sequence[int], n: int, epsilon_release: float,
                  copies: int) -> tuple[MetricEstimate, ...]:
        return self.estimate(self, aggregate, n, epsilon_release, copies)


# --- schema 2 ----------------------------------------------------------------------------


def schema2_noise(model: SecureModel, epsilon: float) -> list[int]:
    return entry_noise_vector(epsilon)


def schema2_estimates(model: SecureModel, aggregate: Sequence[int], n: int, epsilon: float,
                      copies: int) -> tuple[MetricEstimate, ...]:
    """Per-entry noisy sums to released coordinates to estimates with 95% intervals."""
    if n <= 0:
        raise PolicyViolation("an estimate needs at least one report")
    estimates = estimate_release(released_coordinates(aggregate), n, epsilon, copies)
    return tuple(MetricEstimate(name, e.value, e.raw, e.low, e.high, e.half_width,
                                e.informative, n, e.people_needed)
                 for name, e in estimates.items())


MODELS: dict[int, SecureModel] = {
    SCHEMA_VERSION_SECURE: SecureModel(SCHEMA_VERSION_SECURE, SECURE_METRICS, schema2_noise,
                                       schema2_estimates),
}


def model_for(schema_version: int, models: dict[int, SecureModel] | None = None) -> SecureModel:
    model = (models or MODELS).get(schema_version)
    if model is None:
        raise PolicyViolation(f"report schema {schema_version} is not one this aggregator "
                              "knows; update worktally-aggregator")
    return model


NoiseFn = Callable[[TaskConfig], Sequence[int]]


def default_noise(config: TaskConfig) -> list[int]:
    """One aggregator's noise for one batch of a task, per entry (drawn from OpenDP)."""
    return model_for(config.schema_version).draw_noise(config.epsilon_release)


def all_metrics() -> dict[str, SecureMetric]:
    return {m.name: m for model in MODELS.values() for m in model.metrics}
