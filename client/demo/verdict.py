"""Whether one cohort stands out from another on a metric, judged only by released intervals.

"Stands out" means the two cohorts' 95% intervals of the mean do not overlap, so the
difference is larger than the noise could plausibly make it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worktally.client.errors import WorktallyError
from worktally.client.wire.display import Figure


@dataclass(frozen=True)
class Verdict:
    metric: str
    cohort: str
    other: str
    cohort_mean: Figure
    other_mean: Figure

    @property
    def stands_out(self) -> bool:
        return (self.cohort_mean.high < self.other_mean.low
                or self.cohort_mean.low > self.other_mean.high)

    @property
    def direction(self) -> str:
        return "lower" if self.cohort_mean.estimate < self.other_mean.estimate else "higher"

    def sentence(self) -> str:
        c, o = self.cohort_mean, self.other_mean
        # The figures as every table shows them (client/wire/display.py).
        figures = (f"{self.cohort} {c.text} (±{_half(c)}) vs {self.other} {o.text} "
                   f"(±{_half(o)})")
        if self.stands_out:
            return (f"{self.metric}: {self.cohort} stands out ({self.direction}) beyond its "
                    f"95% error bars: {figures}")
        return (f"{self.metric}: {self.cohort} does NOT stand out; the 95% intervals "
                f"overlap: {figures}")

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "cohort": self.cohort, "other": self.other,
                "stands_out": self.stands_out, "direction": self.direction,
                "cohort_mean": self.cohort_mean.to_json(),
                "other_mean": self.other_mean.to_json()}


def _half(figure: Figure) -> str:
    return "∞" if figure.half_width is None else figure.number(figure.half_width)


def _mean(summary: dict[str, Any], cohort: str, period: str, metric: str) -> Figure:
    for row in summary.get("cohorts", []):
        if row["cohort"] == cohort and row["period"] == period:
            return Figure.from_json(row["metrics"][metric]["mean"])
    raise WorktallyError(f"{cohort} {period} is not in the released summary")


def judge(summary: dict[str, Any], period: str, cohort: str, other: str,
          metric: str) -> Verdict:
    """Compare `cohort` with `other` on `metric` in the released `summary` of `period`."""
    return Verdict(metric, cohort, other, _mean(summary, cohort, period, metric),
                   _mean(summary, other, period, metric))
