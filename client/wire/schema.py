"""The versioned report vector: which integers leave the machine, and their clipping bounds.

Both the client (which clips and noises) and the aggregator (which validates bounds and
computes intervals from the known noise) read this one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEMA_VERSION = 1


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


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("active", 0, 1, "flag", "1 if the person had any AI session or AI edit"),
    MetricSpec("ai_tokens_k", 0, 10_000, "thousand tokens", "AI tokens used"),
    MetricSpec("shipped_token_share_pm", 0, 1000, "per-mille",
               "share of AI tokens in sessions whose lines reached a commit"),
    MetricSpec("ai_lines_inserted", 0, 3000, "lines", "AI lines inserted in editors/agents"),
    MetricSpec("ai_lines_committed", 0, 1500, "lines", "AI lines that reached a commit"),
    MetricSpec("ai_committed_share_pm", 0, 1000, "per-mille",
               "share of committed lines that are AI"),
    MetricSpec("ai_lines_surviving", 0, 1500, "lines", "AI lines still at HEAD after 14 days"),
    MetricSpec("sessions_shipped", 0, 30, "sessions", "AI sessions with lines committed"),
    MetricSpec("sessions_edited", 0, 30, "sessions", "AI sessions that edited but shipped nothing"),
    MetricSpec("sessions_repo_context", 0, 30, "sessions", "AI sessions in a repo, no edits"),
    MetricSpec("sessions_no_context", 0, 30, "sessions", "AI sessions outside any repo"),
)

METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)


@dataclass(frozen=True)
class NoiseSpec:
    """The noise one metric gets: discrete Laplace with `scale`, whose variance is known."""

    mechanism: str
    scale: float
    variance: float


def noise_parameters(epsilon: float, delta: float = 0.0,
                     mechanism: str = "discrete_laplace") -> dict[str, NoiseSpec]:
    """Split ε over the metrics by weight (basic composition) and derive each scale."""
    if epsilon <= 0:
        raise ValueError("epsilon must be positive")
    if mechanism != "discrete_laplace":
        raise ValueError(f"unsupported mechanism {mechanism!r}")
    total = sum(m.budget_weight for m in METRICS)
    out: dict[str, NoiseSpec] = {}
    for m in METRICS:
        eps_m = epsilon * m.budget_weight / total
        scale = m.sensitivity / eps_m
        alpha = math.exp(-1.0 / scale)
        variance = 2 * alpha / (1 - alpha) ** 2
        out[m.name] = NoiseSpec(mechanism, scale, variance)
    return out
