"""Line numbers as git-ai writes them ("1-4,9,12-13") and as runs of one contributor.

Pure functions shared by the git-ai notes and the Agent Trace export, so both describe a
commit's lines with the same ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

V = TypeVar("V", bound=Hashable)

# A note naming a line past this is corrupt; it bounds the work a hostile note can ask for.
MAX_LINE = 10_000_000


class RangeError(ValueError):
    """A line range specification that does not follow the format."""


def parse(spec: str) -> list[tuple[int, int]]:
    """"1-4,9" -> [(1, 4), (9, 9)]: inclusive, 1-indexed; RangeError on anything else."""
    out: list[tuple[int, int]] = []
    for part in spec.split(","):
        if not part:
            raise RangeError("empty item in a line range")
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise RangeError("a line range item is a number or two joined by '-'")
        start, end = int(first), int(last) if dash else int(first)
        if not 1 <= start <= end <= MAX_LINE:
            raise RangeError("line numbers start at 1 and a range may not run backwards")
        out.append((start, end))
    return out


def compress(lines: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged ranges covering exactly `lines`."""
    out: list[tuple[int, int]] = []
    for n in sorted(set(lines)):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def format_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    """[(1, 4), (9, 9)] -> "1-4,9" (the ranges as given; `compress` first to merge)."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def runs(lines: Sequence[tuple[int, int | None]],
         verdict: Callable[[int], V | None]) -> list[tuple[int, int, V]]:
    """Maximal runs of consecutive added lines with one verdict, as (start, end, verdict).

    `lines` are a file's added lines as (line number, key), key None for a trivial line (a
    blank line, `}`), which has no class of its own: it joins a run only when the counted
    lines on both sides of it belong to that run. A counted line whose verdict is None
    (nothing to say about it) ends a run, and a gap in the numbering (a line the commit did
    not add) always does, so a range never covers a line it cannot vouch for.
    """
    out: list[tuple[int, int, V]] = []
    start = end = last = 0
    current: V | None = None
    for number, key in sorted(lines, key=lambda item: item[0]):
        if number != last + 1 and current is not None:
            out.append((start, end, current))
            current = None
        last = number
        if key is None:
            continue
        found = verdict(key)
        if current is not None and found == current:
            end = number
            continue
        if current is not None:
            out.append((start, end, current))
        start = end = number
        current = found
    if current is not None:
        out.append((start, end, current))
    return out
