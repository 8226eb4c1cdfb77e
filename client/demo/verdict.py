"""Whether one cohort stands out from another on a metric, judged only by released intervals.

"Stands out" means the two cohorts' 95% intervals of the mean do not overlap, so the
difference is larger than the noise could plausibly make it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worktally.client.errors import WorktallyError


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    # The 95% half-width before trimming to the metric's range (None: unbounded).
    half_width: float | None


@dataclass(frozen=True)
class Verdict:
    metric: str
    cohort: str
    other: str
    cohort_mean: Interval
    other_mean: Interval

    @property
    def stands_out(self) -> bool:
        return (self.cohort_mean.high < self.other_mean.low
                or self.cohort_mean.low > self.other_mean.high)

    @property
    def direction(self) -> str:
        return "lower" if self.cohort_mean.estimate < self.other_mean.estimate else "higher"

    def sentence(self) -> str:
        c, o = self.cohort_mean, self.other_mean
        figures = (f"{self.cohort} {c.estimate:.0f} [{c.low:.0f}, {c.high:.0f}] "
                   f"(±{_half(c)}) vs {self.other} {o.estimate:.0f} [{o.low:.0f}, "
                   f"{o.high:.0f}] (±{_half(o)})")
        if self.stands_out:
            return (f"{self.metric}: {self.cohort} stands out ({self.direction}) beyond its "
                    f"95% error bars: {figures}")
        return (f"{self.metric}: {self.cohort} does NOT stand out; the 95% intervals "
                f"overlap: {figures}")

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "cohort": self.cohort, "other": self.other,
                "stands_out": self.stands_out, "direction": self.direction,
                "cohort_mean": vars(self.cohort_mean), "other_mean": vars(self.other_mean)}


def _half(interval: Interval) -> str:
    return "∞" if interval.half_width is None else f"{interval.half_width:.0f}"


def _mean(summary: dict[str, Any], cohort: str, period: str, metric: str) -> Interval:
    for row in summary.get("cohorts", []):
        if row["cohort"] == cohort and row["period"] == period:
            mean = row["metrics"][metric]["mean"]
            half = mean.get("half_width")
            return Interval(float(mean["estimate"]), float(mean["low"]), float(mean["high"]),
                            None if half is None else float(half))
    raise WorktallyError(f"{cohort} {period} is not in the released summary")


def judge(summary: dict[str, Any], period: str, cohort: str, other: str,
          metric: str) -> Verdict:
    """Compare `cohort` with `other` on `metric` in the released `summary` of `period`."""
    return Verdict(metric, cohort, other, _mean(summary, cohort, period, metric),
                   _mean(summary, other, period, metric))
