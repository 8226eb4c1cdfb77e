"""Report schema v2: the integer vector a person contributes to one secure release.

Each entry has its own bound; a share entry is gated by a flag, so a person without the
share's denominator (no AI tokens, no observed lines) contributes nothing to it rather than
a 0. The aggregators learn only the noised per-entry sums.

What is released (one coordinate per entry, computed linearly from those sums):
- a flag releases its count C = Σ flag (sensitivity 1);
- a share with centre c releases the centred sum T = Σ gate·(x - c) = S - c·C_gate
  (sensitivity `bound`: one person moves it by at most that, replace-one; the report count
  is public);
- a volume releases its sum (sensitivity `bound`).
Each coordinate gets an independent discrete Laplace draw of scale sensitivity / ε_i, where
the ε_i split the release's ε by the metrics' weights. The VDAF adds noise per ENTRY, so a
share's entry gets X_T + c·Y_gate and its gate's entry gets Y_gate: then S̃ - c·C̃ = T + X_T
and C̃ = C + Y_gate, a bijection of independently noised coordinates, and the release is
ε-DP with ε = Σ ε_i (basic composition). A gate shared by two shares has one Y, used by both.

Centring is why the share coordinate is T and not S: the estimate is m = c + T/C, so the
count noise enters the error multiplied by |m - c| ≤ bound/2 rather than by m.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from worktally.client.wire.errors import MeasurementError
from worktally.client.wire.privacy import ACCEPTED_SCALES
from worktally.client.wire.vdaf import Entry, Prio3, bounded_vec

SCHEMA_VERSION_SECURE = 2
# DAP draft-18's application context prefix. The task id it is joined with is the hash of a
# task config that includes this schema's entries, which binds the report schema into ctx
# (BoundedVec's algorithm id alone does not).
VDAF_CTX_PREFIX = b"dap-18"
TASK_ID_LENGTH = 32


class MetricKind(StrEnum):
    FLAG = "flag"
    SHARE = "share"
    VOLUME = "volume"


@dataclass(frozen=True)
class SecureMetric:
    """One entry of the report. `weight` is its part of each release's ε (normalised)."""

    name: str
    kind: MetricKind
    bound: int
    gate: str | None
    weight: float
    unit: str
    description: str

    @property
    def centre(self) -> int:
        """The c a share is centred on (bound/2 minimises the worst |m - c|); 0 otherwise."""
        return self.bound // 2 if self.kind is MetricKind.SHARE else 0

    @property
    def sensitivity(self) -> int:
        """How far one person can move this metric's released coordinate."""
        return self.bound


# The weights were tuned with noise_model.expected_half_width and by simulating releases
# with OpenDP's sampler. The main figure (shipped token share) and its gate take 0.90 of ε:
# at quarterly ε = 4 with the helper's noise alone, a 16-person team gets that figure to a
# median half-width of about ±98‰ at a 50‰ mean and ±90‰ at 750‰, and a release wider than
# ±120‰ comes out about once in 70 (the tests pin the expected widths). The gate gets 0.35
# because its noise reaches the share multiplied by |m - c|, up to 450‰ at a 50‰ mean. The
# other six split the remaining 0.10: each is informative only for cohorts of hundreds at
# that ε (docs/privacy.md has the table); no split lets them say much for a team of 16.
SECURE_METRICS: tuple[SecureMetric, ...] = (
    SecureMetric("ai_active", MetricKind.FLAG, 1, None, 0.35, "people",
                 "had AI tokens in the window (the denominator of the token and session "
                 "shares)"),
    SecureMetric("shipped_token_share_pm", MetricKind.SHARE, 1000, "ai_active", 0.55,
                 "per-mille", "tokens of sessions whose lines reached a commit, of all AI "
                 "tokens"),
    SecureMetric("no_context_session_share_pm", MetricKind.SHARE, 1000, "ai_active", 0.02,
                 "per-mille", "AI sessions run outside any registered repo, of all AI "
                 "sessions"),
    SecureMetric("lines_observed", MetricKind.FLAG, 1, None, 0.02, "people",
                 "had observed committed lines, and the window was not mostly unknown"),
    SecureMetric("ai_line_share_pm", MetricKind.SHARE, 1000, "lines_observed", 0.02,
                 "per-mille", "AI and AI-modified lines, of observed committed lines"),
    SecureMetric("ai_tokens_k_per_week", MetricKind.VOLUME, 5000, None, 0.02,
                 "thousand tokens per week", "AI tokens in the window / its weeks, clipped"),
    SecureMetric("ai_lines_committed_per_week", MetricKind.VOLUME, 500, None, 0.01,
                 "lines per week", "AI lines committed in the window / its weeks"),
    SecureMetric("ai_lines_surviving_per_week", MetricKind.VOLUME, 500, None, 0.01,
                 "lines per week", "AI lines still at HEAD 14 days or more after their "
                 "commit, per week"),
)

METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in SECURE_METRICS)
METRICS_BY_NAME: dict[str, SecureMetric] = {m.name: m for m in SECURE_METRICS}


def _check_schema(metrics: Sequence[SecureMetric]) -> None:
    # A wrong table would fail far from here (in the circuit or in an interval), so say so
    # at import.
    by_name = {m.name: m for m in metrics}
    if len(by_name) != len(metrics):
        raise MeasurementError("metric names must be unique")
    for m in metrics:
        if not (m.weight > 0 and math.isfinite(m.weight)) or m.bound < 1:
            raise MeasurementError(f"{m.name}: weight and bound must be positive")
        if m.kind is MetricKind.FLAG and m.bound != 1:
            raise MeasurementError(f"{m.name}: a flag has bound 1")
        if (m.kind is MetricKind.SHARE) != (m.gate is not None):
            raise MeasurementError(f"{m.name}: shares, and only shares, have a gate")
        if m.kind is MetricKind.SHARE and m.bound % 2:
            raise MeasurementError(f"{m.name}: a share's bound must be even (integer centre)")
        if m.gate is not None and (m.gate not in by_name
                                   or by_name[m.gate].kind is not MetricKind.FLAG):
            raise MeasurementError(f"{m.name}: its gate must be a flag of the schema")


_check_schema(SECURE_METRICS)


def gate_index(metric: SecureMetric) -> int | None:
    """The entry index of a share's gate flag."""
    return None if metric.gate is None else METRIC_NAMES.index(metric.gate)


@functools.cache
def vdaf() -> Prio3[list[int], list[int]]:
    """Prio3 over BoundedVec with this schema's bounds and gates (built once)."""
    return bounded_vec([Entry(m.bound, gate_index(m)) for m in SECURE_METRICS])


def measurement(values: Mapping[str, int]) -> list[int]:
    """The report vector, in schema order: every metric named exactly once, clipped.

    Values are clipped to [0, bound] (negative ones to 0) and a share whose gate flag is 0
    becomes 0, so the result always passes the VDAF's validity check. An unknown or missing
    name, or a value that is not an integer, is a MeasurementError.
    """
    unknown = sorted(set(values) - set(METRIC_NAMES))
    missing = [name for name in METRIC_NAMES if name not in values]
    if unknown or missing:
        raise MeasurementError(
            "the secure report needs exactly the schema's metrics"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else ""))
    clipped: list[int] = []
    for metric in SECURE_METRICS:
        value = values[metric.name]
        if not isinstance(value, int):
            raise MeasurementError(f"{metric.name} must be an integer, not {value!r}")
        clipped.append(min(max(int(value), 0), metric.bound))
    for i, metric in enumerate(SECURE_METRICS):
        gate = gate_index(metric)
        if gate is not None and clipped[gate] == 0:
            clipped[i] = 0
    return clipped


@dataclass(frozen=True)
class Coordinate:
    """One released coordinate's noise: discrete Laplace with `scale` = sensitivity / ε."""

    metric: str
    sensitivity: int
    epsilon: float
    scale: float


def coordinates(epsilon_release: float) -> tuple[Coordinate, ...]:
    """Split a release's ε over the coordinates by weight; one per entry, schema order."""
    if not (isinstance(epsilon_release, int | float) and epsilon_release > 0
            and math.isfinite(epsilon_release)):
        raise MeasurementError(f"ε per release must be positive and finite, not "
                               f"{epsilon_release!r}")
    total = math.fsum(m.weight for m in SECURE_METRICS)
    out = []
    for m in SECURE_METRICS:
        epsilon = epsilon_release * m.weight / total
        out.append(Coordinate(m.name, m.sensitivity, epsilon, m.sensitivity / epsilon))
    return tuple(out)


def _integers(values: Sequence[int], what: str) -> list[int]:
    if len(values) != len(SECURE_METRICS):
        raise MeasurementError(f"{what}: expected {len(SECURE_METRICS)} integers, got "
                               f"{len(values)}")
    if not all(isinstance(v, int) for v in values):
        raise MeasurementError(f"{what} must be integers")
    return [int(v) for v in values]


def entry_noise(draws: Sequence[int]) -> list[int]:
    """The noise to add to the aggregate share, per entry, from one draw per coordinate.

    A share's entry gets its own draw plus c times its gate's draw, so that after
    `released_coordinates` the share's coordinate carries exactly its own draw.
    """
    draws = _integers(draws, "noise draws")
    noise = list(draws)
    for i, metric in enumerate(SECURE_METRICS):
        gate = gate_index(metric)
        if gate is not None:
            noise[i] += metric.centre * draws[gate]
    return noise


def released_coordinates(entry_sums: Sequence[int]) -> list[int]:
    """The collector's side: per-entry (noised) sums to the released coordinates.

    Flags give their count C, shares T = S - c·C_gate, volumes their sum. With the noise of
    `entry_noise`, each coordinate is its true value plus its own draw, which is what
    `noise_model.estimate_release` expects.
    """
    sums = _integers(entry_sums, "entry sums")
    released = list(sums)
    for i, metric in enumerate(SECURE_METRICS):
        gate = gate_index(metric)
        if gate is not None:
            released[i] -= metric.centre * sums[gate]
    return released


def local_accepted_range(epsilon_release: float) -> list[tuple[int, int]]:
    """Local mode: per entry, the noised values a correct client can send.

    Local reports are noised on the machine with `entry_noise` and sent unclipped (clipping
    again would bias every mean), so the aggregator accepts each entry's bounds widened by
    ACCEPTED_SCALES times its noise's scale (a share's entry carries c times its gate's draw
    too) and refuses only what the mechanism cannot produce. This is local mode's weakness:
    a dishonest client may send any value in this wider range, which secure mode's proofs
    rule out.
    """
    coords = coordinates(epsilon_release)
    out = []
    for i, metric in enumerate(SECURE_METRICS):
        gate = gate_index(metric)
        spread = coords[i].scale + (metric.centre * coords[gate].scale if gate is not None
                                    else 0.0)
        margin = math.ceil(ACCEPTED_SCALES * spread)
        out.append((-margin, metric.bound + margin))
    return out


def ctx(task_id: bytes) -> bytes:
    """The VDAF application context for a task, built here and nowhere else."""
    if not isinstance(task_id, bytes) or len(task_id) != TASK_ID_LENGTH:
        raise MeasurementError(f"a task id is {TASK_ID_LENGTH} bytes")
    return VDAF_CTX_PREFIX + task_id
