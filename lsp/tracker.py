"""Per-document line-source tracking: which lines changed since the last flush, and from where.

Pure and in memory: a list aligned with the document's lines is spliced on every change, so
the didChange path costs a few list operations and never touches the disk or a hash.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from worktally.client.capture.records import new_id
from worktally.lsp.positions import (
    UTF16,
    LineSpan,
    Pos,
    count_breaks,
    end_after_insert,
    split_lines,
)

# ai > ai_modified > bulk > typed when one line receives text from several sources.
PRECEDENCE = {"typed": 1, "bulk": 2, "ai_modified": 3, "ai": 4}
# Sources whose text came from an AI tool: a person's change to such a line is `ai_modified`.
AI_SOURCES = frozenset({"ai", "ai_modified"})

# Enter plus the indentation the editor adds is still typing.
_NEWLINE_AND_INDENT = re.compile(r"(?:\r\n|\r|\n)[ \t]*")


@dataclass(frozen=True)
class Attribution:
    """Where a line's text came from; tool/kind/model only for AI (and AI-modified) lines."""

    source: str
    tool: str | None = None
    kind: str | None = None
    model: str | None = None

    @property
    def rank(self) -> int:
        return PRECEDENCE[self.source]

    def modified(self) -> Attribution:
        """The attribution of this AI text once a person has changed it."""
        return _modified(self)


@functools.lru_cache(maxsize=256)
def _modified(ai: Attribution) -> Attribution:
    return replace(ai, source="ai_modified")


TYPED = Attribution("typed")
BULK = Attribution("bulk")


@dataclass(frozen=True)
class CountedLine:
    """A line already flushed; it is clean until text lands on it again.

    `source` is the highest source it was counted under, in the edit `event_id`;
    `provenance` is what its current text is (an AI line a person changed is ai_modified).
    Lines compare by `source` alone.
    """

    source: str
    provenance: Attribution | None = field(default=None, compare=False)
    event_id: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DirtyLine:
    """A line that received text since the last flush.

    `base` is what the line was when last flushed, so retyping a line updates its key
    without counting it twice. `supersedes` names the edit that counted this very text
    under another source before a late signal relabelled it: the new edit takes over
    that count instead of adding a second one.
    """

    attribution: Attribution
    touched_at: float
    base: CountedLine | None = None
    supersedes: str | None = None

    @property
    def counted(self) -> str | None:
        return self.base.source if self.base is not None else None

    @property
    def fresh(self) -> bool:
        """Whether flushing it adds a line to its source's count."""
        if self.supersedes is not None or self.base is None:
            return True
        return PRECEDENCE[self.base.source] < self.attribution.rank


LineState = DirtyLine | CountedLine | None


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
    """Contiguous dirty lines with one attribution, ready to be keyed as edit `event_id`."""

    first: int
    last: int
    attribution: Attribution
    fresh: tuple[bool, ...]
    event_id: str = ""
    supersedes: str | None = None
    # The source the superseded edit counted these lines under.
    superseded_source: str | None = None


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
    """The state of a line after a change; `inserted` is None when no new text landed on it.

    A person's text (typed or bulk) landing on AI text makes the line ai_modified, keeping
    the AI's tool and kind; otherwise the stronger source wins on an unflushed line, and the
    new text's source on a flushed one.
    """
    if inserted is None:
        if isinstance(base, DirtyLine):
            return replace(base, touched_at=now)
        return base
    if isinstance(base, DirtyLine):
        had = base.attribution
        if had.source in AI_SOURCES:
            winner = had.modified()
        else:
            winner = inserted if inserted.rank > had.rank else had
        return DirtyLine(winner, now, base.base, base.supersedes)
    if isinstance(base, CountedLine):
        provenance = base.provenance
        if provenance is not None and provenance.source in AI_SOURCES:
            return DirtyLine(provenance.modified(), now, base)
        return DirtyLine(inserted, now, base)
    return DirtyLine(inserted, now)


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
        old = self.lines
        if not text:
            # A deletion inside one line changes that line's text: the person's edit (so an
            # AI line becomes ai_modified). Across lines the joined line may be unchanged
            # (a whole line removed), so it keeps its state.
            edited = TYPED if first == last and start.character < end.character else None
            if first < last and start.character == 0 and end.character == 0:
                # Whole lines removed: what is left on the line is the last line's text.
                kept = old[last]
            else:
                kept = _strongest(old[first : last + 1])
            new: list[LineState] = [_touch(kept, edited, now)]
            old[first : last + 1] = new
            if edited is not None or isinstance(new[0], DirtyLine):
                self.has_dirty = True
            begin = Pos(first, start.character if first == start.line else 0)
            return AppliedChange(begin, begin, None, LineSpan(first, first - 1))
        segments = split_lines(text)
        # Whitespace-only pieces (indentation, blank lines) carry no authored text.
        landed = [attribution if segment.strip() else None for segment in segments]
        if len(segments) == 1:
            new = [_touch(_strongest(old[first : last + 1]), landed[0], now)]
        else:
            new = [_touch(old[first], landed[0], now)]
            new.extend(_touch(None, mark, now) for mark in landed[1:-1])
            new.append(_touch(None if tail_blank else old[last], landed[-1], now))
        old[first : last + 1] = new
        self.has_dirty = True
        begin = Pos(first, start.character if first == start.line else 0)
        hit = [offset for offset, mark in enumerate(landed) if mark is not None]
        content = LineSpan(first + hit[0], first + hit[-1]) if hit else LineSpan(first, first - 1)
        end_after = end_after_insert(begin, text, self.encoding)
        return AppliedChange(begin, end_after, attribution, content)

    def apply_mark(self, span: LineSpan, attribution: Attribution, now: float) -> int:
        """Give the lines of `span` an explicit attribution (an aiEdit or paste signal).

        A signal never downgrades a line. On a line already flushed under another
        attribution (the signal came after the flush), the new edit supersedes the one that
        counted it, so the line is counted once, under the signal's source.
        """
        lines = span.clamp(len(self.lines))
        marked = 0
        for index in range(lines.first, lines.last + 1):
            state = self.lines[index]
            if isinstance(state, DirtyLine):
                if state.attribution.rank > attribution.rank:
                    continue
                self.lines[index] = DirtyLine(attribution, now, state.base, state.supersedes)
            elif isinstance(state, CountedLine):
                had = state.provenance
                if had is not None and (had == attribution or had.rank > attribution.rank):
                    continue
                self.lines[index] = DirtyLine(attribution, now, state, state.event_id)
            else:
                self.lines[index] = DirtyLine(attribution, now)
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
        lines a late aiEdit can still claim, and waiting avoids correcting them later.
        Each run gets the id of the edit it becomes, which its lines remember.
        """
        bulk_wait = settle_s if bulk_settle_s is None else max(settle_s, bulk_settle_s)
        if not self.has_dirty:
            return []
        runs: list[SettledRun] = []
        still_dirty = False
        run_start = -1
        run_key: tuple[Attribution, str | None] | None = None
        run_counted = CountedLine("typed")
        superseded_source: str | None = None
        fresh: list[bool] = []
        lines = self.lines
        for index, state in enumerate(lines):
            ready = isinstance(state, DirtyLine) and (
                everything
                or now - state.touched_at
                >= (bulk_wait if state.attribution == BULK else settle_s)
            )
            if run_key is not None and (
                not isinstance(state, DirtyLine) or not ready
                or (state.attribution, state.supersedes) != run_key
            ):
                runs.append(SettledRun(run_start, index - 1, run_key[0], tuple(fresh),
                                       run_counted.event_id or "", run_key[1],
                                       superseded_source))
                run_key = None
            if not isinstance(state, DirtyLine):
                continue
            if not ready:
                still_dirty = True
                continue
            if run_key is None:
                run_start, run_key, fresh = index, (state.attribution, state.supersedes), []
                run_counted = CountedLine(state.attribution.source, state.attribution, new_id())
                superseded_source = state.counted if state.supersedes is not None else None
            fresh.append(state.fresh)
            if state.fresh or state.base is None:
                lines[index] = run_counted
            else:
                lines[index] = CountedLine(state.base.source, state.attribution,
                                           state.base.event_id)
        if run_key is not None:
            runs.append(SettledRun(run_start, len(lines) - 1, run_key[0], tuple(fresh),
                                   run_counted.event_id or "", run_key[1], superseded_source))
        self.has_dirty = still_dirty
        return runs

    def discard_dirty(self) -> None:
        """Drop unflushed marks without recording them (used while capture is paused)."""
        for index, state in enumerate(self.lines):
            if isinstance(state, DirtyLine):
                self.lines[index] = state.base
        self.has_dirty = False
