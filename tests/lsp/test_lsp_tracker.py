"""The pure line tracker: classification, splicing, precedence, settling and counting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import TextDocument

from worktally.lsp.positions import LineSpan, Pos, count_breaks, index_to_utf16, split_lines
from worktally.lsp.tracker import (
    BULK,
    TYPED,
    Attribution,
    CountedLine,
    DirtyLine,
    DocumentTracker,
    classify,
)

AI = Attribution("ai", tool="copilot", kind="completion")
PASTE = Attribution("bulk", kind="paste")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", TYPED), ("ab", TYPED), ("😀", TYPED), ("\n", TYPED), ("\r\n    ", TYPED),
        ("\n\t\t", TYPED), ("abc", BULK), ("\nx", BULK), ("a\n", BULK), ("\n\n", BULK),
        ("", None),
    ],
)
def test_classify(text: str, expected: Attribution | None) -> None:
    assert classify(text, typed_max_chars=2) == expected


def test_typed_max_chars_is_honoured() -> None:
    assert classify("abcd", typed_max_chars=4) == TYPED
    assert classify("abcde", typed_max_chars=4) == BULK


def _sources(tracker: DocumentTracker) -> list[str | None]:
    return [s.attribution.source if isinstance(s, DirtyLine) else None for s in tracker.lines]


def test_multi_line_insert_marks_only_lines_that_received_text() -> None:
    tracker = DocumentTracker(3)
    # "\nfoo()\n\nbar()\n" at the end of line 1: line 1 unchanged, blank line stays clean.
    change = tracker.apply_change(Pos(1, 4), Pos(1, 4), "\nfoo()\n\nbar()\n", 0.0, 2)
    assert len(tracker.lines) == 7
    assert _sources(tracker) == [None, None, "bulk", None, "bulk", None, None]
    assert change.content == LineSpan(2, 4)
    assert change.end == Pos(5, 0)


def test_precedence_ai_over_bulk_over_typed() -> None:
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "x = 1", 0.0, 2)
    tracker.apply_mark(LineSpan(0, 0), AI, 0.0)
    tracker.apply_change(Pos(0, 5), Pos(0, 5), "0", 0.1, 2)  # typing on an AI line
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "bulk text", 0.2, 2)
    assert tracker.lines[0] == DirtyLine(AI, 0.2, None)
    tracker.apply_mark(LineSpan(0, 0), PASTE, 0.3)  # a paste claim never downgrades AI
    assert isinstance(tracker.lines[0], DirtyLine) and tracker.lines[0].attribution == AI


def test_joining_lines_keeps_the_strongest_state() -> None:
    tracker = DocumentTracker(3)
    tracker.apply_change(Pos(2, 0), Pos(2, 0), "tail_text()", 0.0, 2)
    tracker.apply_mark(LineSpan(2, 2), AI, 0.0)
    tracker.apply_change(Pos(0, 3), Pos(2, 0), "", 0.5, 2)  # delete across lines
    assert len(tracker.lines) == 1
    assert isinstance(tracker.lines[0], DirtyLine) and tracker.lines[0].attribution == AI


def test_settling_takes_only_quiet_lines_and_groups_runs() -> None:
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "a()\nb()\nc()\nd()", 0.0, 2)
    tracker.apply_mark(LineSpan(2, 3), AI, 0.0)
    tracker.apply_change(Pos(3, 3), Pos(3, 3), "x", 0.9, 2)  # line 3 still hot
    assert tracker.take_settled(0.5, 1.0) == []
    runs = tracker.take_settled(1.5, 1.0)
    assert [(r.first, r.last, r.attribution.source) for r in runs] == [(0, 1, "bulk"), (2, 2, "ai")]
    assert tracker.has_dirty
    (last,) = tracker.take_settled(1.5, 1.0, everything=True)
    assert (last.first, last.last, last.attribution) == (3, 3, AI)
    assert not tracker.has_dirty
    assert tracker.lines == [CountedLine("bulk"), CountedLine("bulk"), CountedLine("ai"),
                             CountedLine("ai")]


def test_a_line_is_counted_once_per_source_level() -> None:
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "v", 0.0, 2)
    assert tracker.take_settled(5.0, 1.0)[0].fresh == (True,)
    tracker.apply_change(Pos(0, 1), Pos(0, 1), "w", 6.0, 2)  # retyping the same line
    assert tracker.take_settled(9.0, 1.0)[0].fresh == (False,)
    tracker.apply_mark(LineSpan(0, 0), AI, 10.0)  # now AI rewrote it: counts as AI
    assert tracker.take_settled(20.0, 1.0)[0].fresh == (True,)


def test_discard_drops_dirty_marks() -> None:
    tracker = DocumentTracker(2)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "hello world", 0.0, 2)
    tracker.discard_dirty()
    assert tracker.take_settled(9.0, 0.0, everything=True) == []
    assert tracker.lines == [None, None]


changes = st.lists(
    st.tuples(
        st.integers(0, 40), st.integers(0, 40), st.integers(0, 3), st.integers(0, 40),
        st.lists(st.sampled_from([*"ab 😀中\t", "\n"]), max_size=12).map("".join),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([*"xy 😀中", "\n"]), max_size=40).map("".join), changes)
def test_tracker_stays_aligned_with_the_document(initial: str, edits: list) -> None:
    """Random incremental edits: the tracker has exactly one entry per LSP line throughout."""
    document = TextDocument("file:///t.txt", initial)
    tracker = DocumentTracker(count_breaks(initial) + 1)
    for start_line, start_index, span_lines, end_index, text in edits:
        lines = split_lines(document.source)
        sl = start_line % len(lines)
        el = min(sl + span_lines, len(lines) - 1)
        start = Pos(sl, index_to_utf16(lines[sl], min(start_index, len(lines[sl]))))
        end_char = index_to_utf16(lines[el], min(end_index, len(lines[el])))
        end = Pos(el, end_char) if (el, end_char) >= (sl, start.character) else start
        document.apply_change(types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(start.line, start.character),
                              end=types.Position(end.line, end.character)),
            text=text,
        ))
        tracker.apply_change(start, end, text, 0.0, 2)
        assert len(tracker.lines) == count_breaks(document.source) + 1


@given(
    st.integers(1, 8), st.integers(0, 7), st.integers(0, 6),
    st.lists(st.sampled_from(["", " ", "x = 1", "😀中", "\t"]), min_size=1, max_size=6),
)
def test_insert_dirties_exactly_the_lines_that_get_text(
    line_count: int, line: int, column: int, segments: list[str]
) -> None:
    tracker = DocumentTracker(line_count)
    at = Pos(min(line, line_count - 1), column)
    text = "\n".join(segments)
    tracker.apply_change(at, at, text, 0.0, 2)
    dirty = {i for i, state in enumerate(tracker.lines) if isinstance(state, DirtyLine)}
    assert dirty == {at.line + i for i, segment in enumerate(segments) if segment.strip()}
    assert len(tracker.lines) == line_count + len(segments) - 1


def test_unsignalled_bulk_waits_out_the_signal_window() -> None:
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "pasted_block()\nmore()\n", 0.0, 2)
    tracker.apply_change(Pos(2, 0), Pos(2, 0), "t", 0.0, 2)
    early = tracker.take_settled(1.5, 1.0, bulk_settle_s=2.0)
    assert [(r.first, r.attribution.source) for r in early] == [(2, "typed")]
    # A late aiEdit at 1.8 s still finds the lines unspooled and claims them.
    tracker.apply_mark(LineSpan(0, 1), AI, 1.8)
    late = tracker.take_settled(3.0, 1.0, bulk_settle_s=2.0)
    assert [(r.first, r.last, r.attribution) for r in late] == [(0, 1, AI)]


def test_enter_at_the_end_of_an_unsettled_ai_line_gives_a_clean_line() -> None:
    # Found by the VS Code end-to-end test: accept a completion, press Enter at once, paste.
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "return doubled + 1", 0.0, 2)
    tracker.apply_mark(LineSpan(0, 0), AI, 0.0)
    tracker.apply_change(Pos(0, 18), Pos(0, 18), "\n", 0.1, 2, tail_blank=True)
    assert _sources(tracker) == ["ai", None]
    tracker.apply_change(Pos(1, 0), Pos(1, 0), "pasted = 1\n", 0.2, 2, tail_blank=True)
    tracker.apply_mark(LineSpan(1, 1), PASTE, 0.2)
    assert _sources(tracker) == ["ai", "bulk", None]


def test_enter_inside_an_ai_line_keeps_ai_on_both_halves() -> None:
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "first(); second()", 0.0, 2)
    tracker.apply_mark(LineSpan(0, 0), AI, 0.0)
    tracker.apply_change(Pos(0, 8), Pos(0, 8), "\n", 0.1, 2)  # the tail " second()" moves
    assert _sources(tracker) == ["ai", "ai"]
