"""The rules a setting's value must meet beyond its type: bounds, a set of choices, a URL."""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Rule(Protocol):
    """What a key's value must satisfy beyond its type."""

    def problem(self, value: Any) -> str | None:
        """Why `value` is refused ("must be ..."), or None when it is allowed."""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


@dataclass(frozen=True)
class Bounds:
    """A number from `low` to `high`; an `*_open` end is itself excluded. NaN and the
    infinities are always refused: no setting means anything by them."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def problem(self, value: Any) -> str | None:
        if not math.isfinite(value):
            return f"must be a finite number {self.describe()}"
        too_low = value < self.low or (self.low_open and value == self.low)
        too_high = value > self.high or (self.high_open and value == self.high)
        return f"must be {self.describe()}" if too_low or too_high else None

    def describe(self) -> str:
        low = f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if math.isinf(self.high):
            return low
        return f"{low} and {'<' if self.high_open else '<='} {_number(self.high)}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of strings."""

    choices: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        if value in self.choices:
            return None
        return "must be " + " or ".join(f'"{choice}"' for choice in self.choices)


@dataclass(frozen=True)
class HttpUrl:
    """Empty, or an http(s) URL with a host; enrollment checks the scheme further."""

    def problem(self, value: Any) -> str | None:
        if value == "":
            return None
        try:
            parts = urllib.parse.urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed [IPv6 bracket
            usable = False
        if usable:
            return None
        return "must be an http:// or https:// URL, or empty"


def setting(default: T, rule: Rule | None = None) -> T:
    """A dataclass field: its default and the rule its value must meet."""
    return field(default=default, metadata={"rule": rule})
