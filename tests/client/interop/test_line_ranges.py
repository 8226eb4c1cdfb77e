"""Line range specifications ("1-4,9") and runs of one contributor over a commit's lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.interop import line_ranges


def test_parse_and_format_the_spec_examples():
    assert line_ranges.parse("42") == [(42, 42)]
    assert line_ranges.parse("19-222") == [(19, 222)]
    assert line_ranges.parse("1,2,19-222,300") == [(1, 1), (2, 2), (19, 222), (300, 300)]
    assert line_ranges.format_ranges([(1, 4), (9, 10), (12, 12)]) == "1-4,9-10,12"
    assert line_ranges.format_ranges(line_ranges.compress([5, 1, 2, 3, 9, 4])) == "1-5,9"


@pytest.mark.parametrize("bad", ["", "0", "1,,2", "3-1", "1 - 2", "a", "1-", "-3", "1-2-3",
                                 " 1", "1,2 "])
def test_parse_refuses_what_the_format_does_not_allow(bad):
    with pytest.raises(line_ranges.RangeError):
        line_ranges.parse(bad)


@given(st.sets(st.integers(min_value=1, max_value=400), min_size=1))
def test_compress_format_parse_round_trip(lines):
    spec = line_ranges.format_ranges(line_ranges.compress(lines))
    covered = {n for a, b in line_ranges.parse(spec) for n in range(a, b + 1)}
    assert covered == lines
    assert " " not in spec


def test_runs_bridge_a_trivial_line_only_inside_one_contributor():
    # (line number, key): None is a trivial line (blank, "}").
    lines = [(1, 10), (2, None), (3, 11), (4, None), (5, 20), (6, None), (8, 21), (9, 30)]
    verdict = {10: "ai", 11: "ai", 20: "human", 21: "human", 30: None}.get
    # 2 joins the AI run; 4 lies between ai and human, so neither claims it; 7 was not added
    # by the commit, so 5 and 8 are two runs; 9 has nothing to say and is in no run.
    assert line_ranges.runs(lines, verdict) == [(1, 3, "ai"), (5, 5, "human"),
                                                (8, 8, "human")]


def test_runs_leave_out_leading_and_trailing_trivial_lines():
    lines = [(1, None), (2, 5), (3, 6), (4, None)]
    assert line_ranges.runs(lines, lambda k: "x") == [(2, 3, "x")]


@given(st.lists(st.tuples(st.integers(1, 60), st.one_of(st.none(), st.integers(0, 3))),
                unique_by=lambda t: t[0]))
def test_runs_cover_only_added_lines_and_never_overlap(lines):
    verdicts = {0: None, 1: "a", 2: "b", 3: "a"}
    found = line_ranges.runs(lines, verdicts.get)
    added = {n for n, _ in lines}
    seen: set[int] = set()
    for start, end, who in found:
        span = set(range(start, end + 1))
        assert span <= added and not span & seen
        seen |= span
        counted = [verdicts[k] for n, k in lines if n in span and k is not None]
        assert counted and set(counted) == {who}
    for n, k in lines:
        if k is not None and verdicts[k] is not None:
            assert n in seen
