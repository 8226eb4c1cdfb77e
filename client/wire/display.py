"""How a released figure is shown, the one rule every view uses: the aggregator's summary (CLI
and JSON), its dashboard, privacy review and export, and the demo's table.

- The estimate is the noisy figure clamped to its metric's range (`noise_model` clamps it);
  where clamping changed it, the figure is marked with CLAMP_MARK and JSON keeps `raw`.
- A figure whose 95% interval covers most of its range (`noise_model.UNINFORMATIVE_SPAN`)
  is flagged `informative: false`, drawn greyed, and says how many people it would need
  (`noise_model.people_needed`, computed from the noise).
- Numbers get the digits their interval supports: none when the half-width is 10 or more
  or the figure and its interval are whole numbers, one when it is 1 or more, else two.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLAMP_MARK = "*"
# What a legend says about the two markings, in one wording.
CLAMP_LEGEND = (f"{CLAMP_MARK} marks an estimate the noise put outside its metric's range, "
                "shown at the edge (the raw value is in the JSON)")
GREY_LEGEND = ("greyed figures have a 95% interval covering most of their range: they say "
               "little, and the note gives the team size they would need")
# A raw value this close to the clamped one was not moved by clamping (float round-off).
_CLAMP_TOLERANCE = 1e-9
# Figures in JSON are rounded to this many decimals (the noise is far coarser).
JSON_DECIMALS = 4


@dataclass(frozen=True)
class Figure:
    """One released figure as every view shows it. `half_width` is None when the data bound
    the interval on one side only (it is unbounded before trimming)."""

    estimate: float
    raw: float
    low: float
    high: float
    half_width: float | None
    informative: bool
    people_needed: int | None = None
    clamped: bool = False

    @classmethod
    def of(cls, estimate: float, raw: float, low: float, high: float, half_width: float,
           informative: bool, people_needed: int | None) -> Figure:
        """From an estimate's fields, rounded as JSON carries them (so a figure read back
        from JSON shows exactly the same); an infinite half-width becomes None."""
        half = _rounded(half_width) if math.isfinite(half_width) else None
        return cls(_rounded(estimate), _rounded(raw), _rounded(low), _rounded(high), half,
                   informative, people_needed, was_clamped(raw, estimate))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figure:
        """Read back what `to_json` wrote (the summary's `mean` of one metric)."""
        half = data.get("half_width")
        needed = data.get("people_needed")
        estimate, raw = float(data["estimate"]), float(data["raw"])
        clamped = data.get("clamped")
        return cls(estimate, raw, float(data["low"]), float(data["high"]),
                   None if half is None else float(half), bool(data["informative"]),
                   None if needed is None else int(needed),
                   was_clamped(raw, estimate) if clamped is None else bool(clamped))

    @property
    def decimals(self) -> int:
        half = self.half_width
        if half is None or half >= 10:
            return 0
        if all(v == round(v) for v in (self.estimate, self.low, self.high)):
            return 0  # a count of people, say: whole numbers say it all
        return 1 if half >= 1 else 2

    def number(self, value: float) -> str:
        """A value of this figure (an interval end, say) with the figure's digits."""
        return f"{value:,.{self.decimals}f}"

    @property
    def value_text(self) -> str:
        """The estimate, with CLAMP_MARK when clamping moved it: `12*`."""
        return self.number(self.estimate) + (CLAMP_MARK if self.clamped else "")

    @property
    def interval_text(self) -> str:
        return f"[{self.number(self.low)}, {self.number(self.high)}]"

    @property
    def text(self) -> str:
        """The estimate and its 95% interval: `812* [640, 1,000]`."""
        return f"{self.value_text} {self.interval_text}"

    @property
    def note(self) -> str:
        """Empty for an informative figure; otherwise what it would take to say more."""
        if self.informative:
            return ""
        if self.people_needed is None:
            return "interval too wide to say much"
        return f"needs about {self.people_needed:,} people"

    def to_json(self) -> dict[str, Any]:
        """The figure in the summary's JSON: rounded numbers, both flags, and the text and
        note every view shows, so a consumer never has to reimplement the rule."""
        out: dict[str, Any] = {
            "estimate": _rounded(self.estimate), "raw": _rounded(self.raw),
            "low": _rounded(self.low), "high": _rounded(self.high),
            "half_width": None if self.half_width is None else _rounded(self.half_width),
            "informative": self.informative, "clamped": self.clamped,
            "shown": self.text, "note": self.note,
        }
        if self.people_needed is not None:
            out["people_needed"] = self.people_needed
        return out


def clamp(raw: float, lower: float, upper: float) -> float:
    """The estimate shown for a raw noisy figure: the nearest point of its range."""
    return min(max(raw, lower), upper)


def was_clamped(raw: float, estimate: float) -> bool:
    """Clamping to the range moved the estimate (so it is marked)."""
    return abs(raw - estimate) > _CLAMP_TOLERANCE * max(1.0, abs(raw))


def _rounded(value: float) -> float:
    return round(value, JSON_DECIMALS)
