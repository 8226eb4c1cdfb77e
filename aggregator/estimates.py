"""Released figures: one estimate per metric with its 95% interval, computed the same way in
both modes from the noisy per-entry sums of schema 2 (`measurement.released_coordinates`,
then `noise_model.estimate_release`). Only the noise differs: one or two draws added to the
team's sums in secure mode, one draw per report in local mode (`noise_model.LOCAL`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worktally.aggregator.errors import PolicyViolation
from worktally.client.wire.display import Figure
from worktally.client.wire.measurement import released_coordinates
from worktally.client.wire.noise_model import estimate_release


@dataclass(frozen=True)
class MetricEstimate:
    """One released figure: `value` is trimmed to the metric's range, `raw` is not;
    `half_width` is the 95% half-width before trimming; `n` the reports behind it;
    `people_needed` the team size at which this figure would be informative."""

    metric: str
    value: float
    raw: float
    low: float
    high: float
    half_width: float
    informative: bool
    n: int
    people_needed: int | None = None

    def figure(self) -> Figure:
        """How every view shows this estimate (`client/wire/display.py`)."""
        return Figure.of(self.value, self.raw, self.low, self.high, self.half_width,
                         self.informative, self.people_needed)


def estimate_metrics(entry_sums: Sequence[int], n: int, epsilon_release: float,
              copies: int) -> tuple[MetricEstimate, ...]:
    """Per-entry noisy sums of n reports to one estimate per metric, in schema order."""
    if n <= 0:
        raise PolicyViolation("an estimate needs at least one report")
    figures = estimate_release(released_coordinates(entry_sums), n, epsilon_release, copies)
    return tuple(MetricEstimate(name, e.value, e.raw, e.low, e.high, e.half_width,
                                e.informative, n, e.people_needed)
                 for name, e in figures.items())
