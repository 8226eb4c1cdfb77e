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
    tracker = DocumentTracker(2)
    tracker.apply_change(Pos(1, 0), Pos(1, 0), "y", 0.0, 2)
    tracker.apply_change(Pos(1, 1), Pos(1, 1), " = bulk()", 0.0, 2)  # bulk over typed
    assert tracker.lines[1] == DirtyLine(BULK, 0.0, None)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "x = 1", 0.0, 2)
    tracker.apply_mark(LineSpan(0, 0), AI, 0.0)  # ai over bulk
    assert tracker.lines[0] == DirtyLine(AI, 0.0, None)
    tracker.apply_mark(LineSpan(0, 0), PASTE, 0.05)  # a paste claim never downgrades AI
    assert isinstance(tracker.lines[0], DirtyLine) and tracker.lines[0].attribution == AI
    # A person's text on an AI line makes it ai_modified (this assertion said the line
    # stayed `ai` before the ai_modified class existed), keeping the AI's tool and kind.
    tracker.apply_change(Pos(0, 5), Pos(0, 5), "0", 0.1, 2)  # typing on an AI line
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "bulk text", 0.2, 2)
    assert tracker.lines[0] == DirtyLine(AI.modified(), 0.2, None)
    assert (AI.modified().tool, AI.modified().kind) == ("copilot", "completion")
    tracker.apply_mark(LineSpan(0, 0), PASTE, 0.3)  # nor ai_modified
    assert isinstance(tracker.lines[0], DirtyLine)
    assert tracker.lines[0].attribution.source == "ai_modified"


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
    # Line 3 still hot; the person's keystroke on that AI line makes it ai_modified.
    tracker.apply_change(Pos(3, 3), Pos(3, 3), "x", 0.9, 2)
    assert tracker.take_settled(0.5, 1.0) == []
    runs = tracker.take_settled(1.5, 1.0)
    assert [(r.first, r.last, r.attribution.source) for r in runs] == [(0, 1, "bulk"), (2, 2, "ai")]
    assert tracker.has_dirty
    (last,) = tracker.take_settled(1.5, 1.0, everything=True)
    # Was (3, 3, AI) while a keystroke on an AI line left it `ai`.
    assert (last.first, last.last, last.attribution) == (3, 3, AI.modified())
    assert not tracker.has_dirty
    assert tracker.lines == [CountedLine("bulk"), CountedLine("bulk"), CountedLine("ai"),
                             CountedLine("ai_modified")]


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


# -- provenance: AI lines a person changes, and signals that arrive after the flush --------


def _ai_block(tracker: DocumentTracker, at: float = 0.0) -> None:
    """Three AI lines (0-2) followed by an empty line 3."""
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "one()\ntwo()\nthree()\n", at, 2)
    tracker.apply_mark(LineSpan(0, 2), AI, at)


def test_typing_on_a_flushed_ai_line_records_it_as_ai_modified() -> None:
    tracker = DocumentTracker(1)
    _ai_block(tracker)
    (flushed,) = tracker.take_settled(5.0, 1.0)
    assert (flushed.attribution, flushed.fresh) == (AI, (True, True, True))
    tracker.apply_change(Pos(1, 3), Pos(1, 3), "x", 6.0, 2)
    (edited,) = tracker.take_settled(9.0, 1.0)
    # Its new key is recorded as ai_modified with copilot's tool and kind, not counted again.
    assert (edited.first, edited.last, edited.attribution) == (1, 1, AI.modified())
    assert edited.fresh == (False,) and edited.supersedes is None
    tracker.apply_change(Pos(1, 0), Pos(1, 0), "y", 10.0, 2)  # and it stays so
    (again,) = tracker.take_settled(19.0, 1.0)
    assert again.attribution == AI.modified()


def test_an_ai_line_changed_before_the_flush_counts_once_as_ai_modified() -> None:
    tracker = DocumentTracker(1)
    _ai_block(tracker)
    tracker.apply_change(Pos(0, 5), Pos(0, 5), "  # mine", 0.5, 2)  # a paste-sized change too
    runs = tracker.take_settled(5.0, 1.0)
    assert [(r.first, r.last, r.attribution.source, r.fresh) for r in runs] == [
        (0, 0, "ai_modified", (True,)), (1, 2, "ai", (True, True))]


def test_a_deletion_inside_an_ai_line_modifies_it_and_other_deletions_do_not() -> None:
    tracker = DocumentTracker(1)
    _ai_block(tracker)
    tracker.apply_change(Pos(3, 0), Pos(3, 0), "typed_tail = 1", 0.0, 20)
    tracker.take_settled(5.0, 1.0)
    tracker.apply_change(Pos(0, 1), Pos(0, 3), "", 6.0, 2)  # "one()" -> "o()"
    tracker.apply_change(Pos(1, 5), Pos(1, 5), "\n    ", 6.0, 2)  # Enter at the end of "two()"
    tracker.apply_change(Pos(2, 0), Pos(3, 0), "", 6.0, 2)  # the new blank line removed whole
    assert len(tracker.lines) == 4
    runs = tracker.take_settled(9.0, 1.0)
    assert [(r.first, r.attribution.source) for r in runs] == [(0, "ai_modified")]
    # A deletion in a line nobody saw written is the person's edit: typed.
    tracker.apply_change(Pos(3, 0), Pos(3, 2), "", 10.0, 2)
    (typed,) = tracker.take_settled(19.0, 1.0)
    assert (typed.first, typed.attribution, typed.fresh) == (3, TYPED, (False,))


def test_a_signal_after_the_flush_supersedes_the_edit_that_counted_the_lines() -> None:
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "four()\nfive()\n", 0.0, 2)
    (bulk,) = tracker.take_settled(5.0, 1.0, everything=True)
    assert bulk.attribution == BULK and bulk.event_id
    assert tracker.apply_mark(LineSpan(0, 1), AI, 5.5) == 2
    (late,) = tracker.take_settled(9.0, 1.0)
    assert (late.attribution, late.fresh) == (AI, (True, True))
    assert (late.supersedes, late.superseded_source) == (bulk.event_id, "bulk")
    assert late.event_id != bulk.event_id
    # The same signal again changes nothing, and neither does a weaker one.
    assert tracker.apply_mark(LineSpan(0, 1), AI, 9.5) == 0
    assert tracker.apply_mark(LineSpan(0, 1), PASTE, 9.5) == 0
    assert tracker.take_settled(20.0, 1.0, everything=True) == []


def test_a_late_signal_supersedes_the_edit_that_first_counted_a_retyped_line() -> None:
    tracker = DocumentTracker(1)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "v", 0.0, 2)
    (first,) = tracker.take_settled(5.0, 1.0)
    tracker.apply_change(Pos(0, 1), Pos(0, 1), "2", 6.0, 2)  # retyped, not counted again
    (second,) = tracker.take_settled(9.0, 1.0)
    assert second.fresh == (False,)
    tracker.apply_mark(LineSpan(0, 0), AI, 9.2)
    (late,) = tracker.take_settled(15.0, 1.0)
    assert (late.supersedes, late.superseded_source) == (first.event_id, "typed")


def test_discarding_restores_what_was_flushed() -> None:
    tracker = DocumentTracker(1)
    _ai_block(tracker)
    tracker.take_settled(5.0, 1.0)
    tracker.apply_change(Pos(0, 0), Pos(0, 0), "z", 6.0, 2)
    tracker.discard_dirty()
    assert tracker.lines[:3] == [CountedLine("ai")] * 3
    assert isinstance(tracker.lines[0], CountedLine) and tracker.lines[0].provenance == AI


def test_removing_whole_lines_leaves_the_next_line_its_own_state() -> None:
    tracker = DocumentTracker(1)
    _ai_block(tracker)  # AI lines 0-2, empty line 3
    tracker.apply_change(Pos(3, 0), Pos(3, 0), "x", 0.5, 2)  # a typed line after the block
    tracker.apply_change(Pos(2, 0), Pos(3, 0), "", 0.6, 2)  # `dd` on the last AI line
    assert len(tracker.lines) == 3
    assert isinstance(tracker.lines[2], DirtyLine) and tracker.lines[2].attribution == TYPED
    runs = tracker.take_settled(5.0, 1.0)
    assert [(r.first, r.last, r.attribution.source) for r in runs] == [(0, 1, "ai"),
                                                                        (2, 2, "typed")]


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
