"""The seam between the protocol and the statistics: per report schema, its metrics, the noise
one aggregator adds to its aggregate share, and the estimates a release computes.

The protocol code only ever calls `model_for(schema_version)`; `MODELS` maps versions to
`SecureModel`s. Schema 2's metrics follow the lead's design (§2). Its noise and estimates
here are PROVISIONAL stand-ins until `client/wire/measurement.py`, `noise_model.py` and
`aggregator/noise.py` land: independent discrete Laplace per entry (OpenDP, ε split by the
design's weights, no centring) and intervals from exact discrete-Laplace quantiles, with a
conservative ratio interval for shares. Swapping them is a change to this module only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from worktally.aggregator.errors import PolicyViolation
from worktally.aggregator.releases import MetricEstimate, informative
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.vdaf import BoundedVec, Entry, Prio3, bounded_vec

FLAG, SHARE, VOLUME = "flag", "share", "volume"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # flag, share or volume
    bound: int
    gate: str | None
    weight: float  # share of the release's ε
    unit: str
    description: str


@dataclass(frozen=True)
class SecureModel:
    """One report schema: its metrics (in entry order), noise and estimator."""

    schema_version: int
    metrics: tuple[MetricSpec, ...]
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


# --- provisional noise and estimates (replaced by the dpmath modules) ---------------------


def _scales(model: SecureModel, epsilon: float) -> list[float]:
    total = sum(m.weight for m in model.metrics)
    return [m.bound / (epsilon * m.weight / total) for m in model.metrics]


def laplace_noise(model: SecureModel, epsilon: float) -> list[int]:
    """One aggregator's noise: a discrete Laplace draw per entry, from OpenDP."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    out = []
    for scale in _scales(model, epsilon):
        meas = dp.m.make_laplace(dp.atom_domain(T="i64"), dp.absolute_distance(T="i64"),
                                 scale=scale)
        out.append(int(meas(0)))
    return out


def tail_quantile(scale: float, copies: int, mass: float) -> int:
    """The smallest t with P(|Z| >= t) <= mass, Z the sum of `copies` discrete Laplace(scale)."""
    alpha = math.exp(-1.0 / scale)
    c = (1 - alpha) / (1 + alpha)

    def pmf(z: int) -> float:
        if copies == 1:
            return c * alpha ** abs(z)
        return c * c * alpha ** abs(z) * (abs(z) + 1 + 2 * alpha**2 / (1 - alpha**2))

    inside, t = pmf(0), 1
    while 1 - inside > mass:
        inside += 2 * pmf(t)
        t += 1
    return t


def provisional_estimates(model: SecureModel, aggregate: Sequence[int], n: int,
                          epsilon: float, copies: int) -> tuple[MetricEstimate, ...]:
    if n <= 0:
        raise PolicyViolation("an estimate needs at least one report")
    scales = _scales(model, epsilon)
    index = {m.name: i for i, m in enumerate(model.metrics)}
    out = []
    for i, m in enumerate(model.metrics):
        q = tail_quantile(scales[i], copies, 0.05)
        total = aggregate[i]
        if m.kind == FLAG:
            out.append(_bounded(m.name, total, q, 0, n, n))
        elif m.kind == VOLUME:
            out.append(_bounded(m.name, total / n, q / n, 0, m.bound, n))
        else:
            assert m.gate is not None
            g = index[m.gate]
            # Bonferroni: each of the sum and the count inside its 97.5% band.
            qs, qc = tail_quantile(scales[i], copies, 0.025), tail_quantile(scales[g],
                                                                           copies, 0.025)
            count = aggregate[g]
            raw = total / count if count > 0 else m.bound / 2
            low = max(0.0, (total - qs) / (count + qc)) if count + qc > 0 else 0.0
            high = (total + qs) / (count - qc) if count - qc > 0 else float(m.bound)
            low, high = min(low, m.bound), min(max(high, low), m.bound)
            half = (high - low) / 2 if count - qc > 0 else float(m.bound)
            out.append(MetricEstimate(m.name, float(min(max(raw, 0), m.bound)), raw, low, high,
                                      half,
                                      count - qc > 0 and informative(low, high, 0, m.bound),
                                      n))
    return tuple(out)


def _bounded(name: str, raw: float, half: float, lower: float, upper: float,
             n: int) -> MetricEstimate:
    low, high = min(max(raw - half, lower), upper), max(min(raw + half, upper), lower)
    return MetricEstimate(name, float(min(max(raw, lower), upper)), float(raw), float(low),
                          float(high), float(half), informative(low, high, lower, upper), n)


# --- the schemas -------------------------------------------------------------------------

SCHEMA_2_METRICS = (
    MetricSpec("ai_active", FLAG, 1, None, 0.22, "people",
               "had AI tokens in the window"),
    MetricSpec("shipped_token_share_pm", SHARE, 1000, "ai_active", 0.45, "‰",
               "tokens of sessions whose lines reached a commit, per mille of AI tokens"),
    MetricSpec("no_context_session_share_pm", SHARE, 1000, "ai_active", 0.07, "‰",
               "AI sessions outside any registered repo, per mille of AI sessions"),
    MetricSpec("lines_observed", FLAG, 1, None, 0.06, "people",
               "had observed committed lines"),
    MetricSpec("ai_line_share_pm", SHARE, 1000, "lines_observed", 0.12, "‰",
               "AI and AI-modified lines per mille of observed committed lines"),
    MetricSpec("ai_tokens_k_per_week", VOLUME, 5000, None, 0.04, "k tokens/week",
               "thousand AI tokens per week"),
    MetricSpec("ai_lines_committed_per_week", VOLUME, 500, None, 0.02, "lines/week",
               "AI lines committed per week"),
    MetricSpec("ai_lines_surviving_per_week", VOLUME, 500, None, 0.02, "lines/week",
               "AI lines still at HEAD 14 days after commit, per week"),
)
SCHEMA_VERSION_SECURE = 2
MODELS: dict[int, SecureModel] = {
    SCHEMA_VERSION_SECURE: SecureModel(SCHEMA_VERSION_SECURE, SCHEMA_2_METRICS, laplace_noise,
                                       provisional_estimates),
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


def all_metrics() -> dict[str, MetricSpec]:
    return {m.name: m for model in MODELS.values() for m in model.metrics}
