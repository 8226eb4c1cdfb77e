"""Per-document line-source tracking: which lines changed since the last flush, and from where.

Pure and in memory: a list aligned with the document's lines is spliced on every change, so
the didChange path costs a few list operations and never touches the disk or a hash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from worktally.lsp.positions import (
    UTF16,
    LineSpan,
    Pos,
    count_breaks,
    end_after_insert,
    split_lines,
)

# ai > bulk > typed when one line receives text from several sources.
PRECEDENCE = {"typed": 1, "bulk": 2, "ai": 3}

# Enter plus the indentation the editor adds is still typing.
_NEWLINE_AND_INDENT = re.compile(r"(?:\r\n|\r|\n)[ \t]*")


@dataclass(frozen=True)
class Attribution:
    """Where a line's text came from; tool/kind/model only for signalled edits."""

    source: str
    tool: str | None = None
    kind: str | None = None
    model: str | None = None

    @property
    def rank(self) -> int:
        return PRECEDENCE[self.source]


TYPED = Attribution("typed")
BULK = Attribution("bulk")


@dataclass(frozen=True)
class DirtyLine:
    """A line that received text since the last flush.

    `counted` is the source the line was already counted under before, so retyping a line
    updates its key without counting it twice.
    """

    attribution: Attribution
    touched_at: float
    counted: str | None = None

    @property
    def fresh(self) -> bool:
        return self.counted is None or PRECEDENCE[self.counted] < self.attribution.rank


@dataclass(frozen=True)
class CountedLine:
    """A line already flushed under `source`; it is clean until text lands on it again."""

    source: str


LineState = DirtyLine | CountedLine | None
_COUNTED = {name: CountedLine(name) for name in PRECEDENCE}


@dataclass(frozen=True)
class AppliedChange:
    """One content change as the tracker saw it: where its text now lies and its class."""

    start: Pos
    end: Pos
    attribution: Attribution | None
    # Lines that received non-blank inserted text (empty for a deletion).
    content: LineSpan


@dataclass(frozen=True)
class SettledRun:
    """Contiguous dirty lines with one attribution, ready to be keyed."""

    first: int
    last: int
    attribution: Attribution
    fresh: tuple[bool, ...]


def classify(text: str, typed_max_chars: int) -> Attribution | None:
    """typed for a keystroke-sized insert or Enter+indent, bulk for more, None for a deletion."""
    if not text:
        return None
    if len(text) <= typed_max_chars and "\n" not in text and "\r" not in text:
        return TYPED
    if _NEWLINE_AND_INDENT.fullmatch(text):
        return TYPED
    return BULK


def _state_rank(state: LineState) -> tuple[int, int]:
    if state is None:
        return (0, 0)
    if isinstance(state, CountedLine):
        return (1, PRECEDENCE[state.source])
    return (2, state.attribution.rank)


def _strongest(states: Sequence[LineState]) -> LineState:
    """The state that survives when several old lines are joined into one."""
    if len(states) == 1:
        return states[0]
    best: LineState = None
    for state in states:
        if _state_rank(state) > _state_rank(best):
            best = state
    return best


def _touch(base: LineState, inserted: Attribution | None, now: float) -> LineState:
    """The state of a line after a change; `inserted` is None when no new text landed on it."""
    if inserted is None:
        if isinstance(base, DirtyLine):
            return replace(base, touched_at=now)
        return base
    if isinstance(base, DirtyLine):
        winner = inserted if inserted.rank > base.attribution.rank else base.attribution
        return DirtyLine(winner, now, base.counted)
    counted = base.source if isinstance(base, CountedLine) else None
    return DirtyLine(inserted, now, counted)


class DocumentTracker:
    """The dirty state of every line of one open document."""

    def __init__(self, line_count: int, encoding: str = UTF16) -> None:
        self.lines: list[LineState] = [None] * max(line_count, 1)
        self.has_dirty = False
        # The negotiated position encoding: the unit of every column this tracker sees.
        self.encoding = encoding

    def reset(self, text: str) -> None:
        """Forget everything (a full-text sync gives no positions to attribute)."""
        self.lines = [None] * (count_breaks(text) + 1)
        self.has_dirty = False

    def apply_change(
        self, start: Pos, end: Pos, text: str, now: float, typed_max_chars: int,
        tail_blank: bool = False,
    ) -> AppliedChange:
        """Splice one incremental change (range in the document as it was before it).

        `tail_blank`: the old text after `end` is blank, so a multi-line insert's last line
        holds nothing of the old line and must not inherit its state (Enter at the end of
        unsettled AI lines would otherwise make the next line AI before anything is on it).
        """
        last_index = len(self.lines) - 1
        first = min(max(start.line, 0), last_index)
        last = min(max(end.line, first), last_index)
        attribution = classify(text, typed_max_chars)
        segments = split_lines(text) if text else [""]
        # Whitespace-only pieces (indentation, blank lines) carry no authored text.
        landed = [attribution if segment.strip() else None for segment in segments]
        old = self.lines
        if len(segments) == 1:
            new: list[LineState] = [_touch(_strongest(old[first : last + 1]), landed[0], now)]
        else:
            new = [_touch(old[first], landed[0], now)]
            new.extend(_touch(None, mark, now) for mark in landed[1:-1])
            new.append(_touch(None if tail_blank else old[last], landed[-1], now))
        old[first : last + 1] = new
        if attribution is not None or any(isinstance(s, DirtyLine) for s in new):
            self.has_dirty = True
        begin = Pos(first, start.character if first == start.line else 0)
        hit = [offset for offset, mark in enumerate(landed) if mark is not None]
        content = LineSpan(first + hit[0], first + hit[-1]) if hit else LineSpan(first, first - 1)
        end_after = end_after_insert(begin, text, self.encoding)
        return AppliedChange(begin, end_after, attribution, content)

    def apply_mark(self, span: LineSpan, attribution: Attribution, now: float) -> int:
        """Give the lines of `span` an explicit attribution (an aiEdit or paste signal)."""
        lines = span.clamp(len(self.lines))
        marked = 0
        for index in range(lines.first, lines.last + 1):
            state = self.lines[index]
            if isinstance(state, DirtyLine):
                if state.attribution.rank > attribution.rank:
                    continue
                self.lines[index] = DirtyLine(attribution, now, state.counted)
            else:
                counted = state.source if isinstance(state, CountedLine) else None
                self.lines[index] = DirtyLine(attribution, now, counted)
            marked += 1
        if marked:
            self.has_dirty = True
        return marked

    def take_settled(
        self, now: float, settle_s: float, everything: bool = False,
        bulk_settle_s: float | None = None,
    ) -> list[SettledRun]:
        """Remove and return the runs of dirty lines untouched for `settle_s` (or all of them).

        Unsignalled multi-character inserts may wait longer (`bulk_settle_s`): they are the
        lines a late aiEdit can still claim, and waiting avoids spooling them twice.
        """
        bulk_wait = settle_s if bulk_settle_s is None else max(settle_s, bulk_settle_s)
        if not self.has_dirty:
            return []
        runs: list[SettledRun] = []
        still_dirty = False
        run_start = -1
        run_attr: Attribution | None = None
        fresh: list[bool] = []
        lines = self.lines
        for index, state in enumerate(lines):
            ready = isinstance(state, DirtyLine) and (
                everything
                or now - state.touched_at
                >= (bulk_wait if state.attribution == BULK else settle_s)
            )
            if run_attr is not None and (
                not isinstance(state, DirtyLine) or not ready or state.attribution != run_attr
            ):
                runs.append(SettledRun(run_start, index - 1, run_attr, tuple(fresh)))
                run_attr = None
            if not isinstance(state, DirtyLine):
                continue
            if not ready:
                still_dirty = True
                continue
            if run_attr is None:
                run_start, run_attr, fresh = index, state.attribution, []
            fresh.append(state.fresh)
            counted = state.attribution.source if state.fresh else state.counted
            lines[index] = _COUNTED[counted or state.attribution.source]
        if run_attr is not None:
            runs.append(SettledRun(run_start, len(lines) - 1, run_attr, tuple(fresh)))
        self.has_dirty = still_dirty
        return runs

    def discard_dirty(self) -> None:
        """Drop unflushed marks without recording them (used while capture is paused)."""
        for index, state in enumerate(self.lines):
            if isinstance(state, DirtyLine):
                self.lines[index] = _COUNTED[state.counted] if state.counted else None
        self.has_dirty = False
