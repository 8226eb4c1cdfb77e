"""The versioned report vector: which integers leave the machine, and their clipping bounds.

Both the client (which clips and noises) and the aggregator (which validates bounds and
computes intervals from the known noise) read this one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from worktally.client.wire.privacy import ACCEPTED_SCALES, DEFAULT_PRIVACY, Mechanism

SCHEMA_VERSION = 1

DEFAULT_EPSILON = DEFAULT_PRIVACY.epsilon
DEFAULT_DELTA = DEFAULT_PRIVACY.delta
DEFAULT_MECHANISM = DEFAULT_PRIVACY.mechanism
MECHANISMS = tuple(m.value for m in Mechanism)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    lower: int
    upper: int
    unit: str
    description: str
    # Share of the per-person budget this metric receives (weights are normalised).
    budget_weight: float = 1.0

    @property
    def sensitivity(self) -> int:
        return self.upper - self.lower


# The weights put most of the budget on the figures the product exists for (how much AI
# spend ships, how much committed code is AI); volumes and session counts get the rest.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("active", 0, 1, "flag", "1 if the person had any AI session or AI edit", 0.01),
    MetricSpec("ai_tokens_k", 0, 20_000, "thousand tokens",
               "AI tokens used (input + output + cache writes + cache reads)", 0.08),
    MetricSpec("shipped_token_share_pm", 0, 1000, "per-mille",
               "share of AI tokens in sessions whose lines reached a commit", 0.50),
    MetricSpec("ai_lines_inserted", 0, 3000, "lines", "AI lines inserted in editors/agents",
               0.03),
    MetricSpec("ai_lines_committed", 0, 1500, "lines", "AI lines that reached a commit", 0.05),
    MetricSpec("ai_committed_share_pm", 0, 1000, "per-mille",
               "share of committed lines that are AI", 0.12),
    MetricSpec("ai_lines_surviving", 0, 1500, "lines", "AI lines still at HEAD after 14 days",
               0.04),
    MetricSpec("sessions_shipped", 0, 30, "sessions", "AI sessions with lines committed", 0.03),
    MetricSpec("sessions_edited", 0, 30, "sessions",
               "AI sessions that edited but shipped nothing", 0.03),
    MetricSpec("sessions_repo_context", 0, 30, "sessions", "AI sessions in a repo, no edits",
               0.03),
    MetricSpec("sessions_no_context", 0, 30, "sessions", "AI sessions outside any repo", 0.08),
)

METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
METRICS_BY_NAME: dict[str, MetricSpec] = {m.name: m for m in METRICS}


@dataclass(frozen=True)
class NoiseSpec:
    """The noise one metric gets: discrete Laplace with `scale`, whose variance is known."""

    mechanism: str
    scale: float
    variance: float
    # The share of ε this metric spends (basic composition: the shares add up to ε).
    epsilon: float = 0.0


def discrete_laplace_variance(scale: float) -> float:
    """Variance of the two-sided geometric distribution P(k) ∝ exp(-|k| / scale)."""
    alpha = math.exp(-1.0 / scale)
    return 2 * alpha / (1 - alpha) ** 2


def noise_parameters(epsilon: float, delta: float = 0.0,
                     mechanism: str = DEFAULT_MECHANISM) -> dict[str, NoiseSpec]:
    """Split ε over the metrics by weight (basic composition) and derive each scale."""
    if not epsilon > 0 or not math.isfinite(epsilon):
        raise ValueError("epsilon must be positive")
    if not 0 <= delta < 1:
        raise ValueError("delta must be in [0, 1)")
    if mechanism not in MECHANISMS:
        raise ValueError(f"unsupported mechanism {mechanism!r}")
    total = sum(m.budget_weight for m in METRICS)
    out: dict[str, NoiseSpec] = {}
    for m in METRICS:
        eps_m = epsilon * m.budget_weight / total
        scale = m.sensitivity / eps_m
        out[m.name] = NoiseSpec(mechanism, scale, discrete_laplace_variance(scale), eps_m)
    return out


def accepted_range(metric: MetricSpec, noise: NoiseSpec) -> tuple[int, int]:
    """The noised values a correct client can send for `metric`: bounds widened by the noise.

    Values are sent unclipped after noise (clipping them again would bias every mean), so the
    aggregator must accept this wider range and reject only what the mechanism cannot make.
    """
    margin = math.ceil(ACCEPTED_SCALES * noise.scale)
    return metric.lower - margin, metric.upper + margin
