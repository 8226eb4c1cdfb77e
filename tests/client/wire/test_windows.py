"""Release windows: labels round-trip, every instant falls in exactly one window, windows tile."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.wire.errors import PeriodError
from worktally.client.wire.periods import week_of
from worktally.client.wire.windows import (
    Window,
    WindowKind,
    last_ended,
    parse_window,
    window_kind,
    window_of,
)

UTC = dt.UTC
KINDS = st.sampled_from(list(WindowKind))
# Any instant from 1900 to 2200, seen from zones a whole day apart, so a window's bounds
# must come from the UTC instant and not from the wall clock.
ZONES = st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=14)),
                         dt.timezone(dt.timedelta(hours=-12)),
                         dt.timezone(dt.timedelta(hours=5, minutes=30))])
MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2200, 1, 1),
                       timezones=ZONES)


@given(KINDS, MOMENTS)
def test_every_moment_is_in_its_window_and_in_neither_neighbour(kind: WindowKind,
                                                              moment: dt.datetime) -> None:
    window = window_of(kind, moment)
    assert window.contains(moment)
    assert window.start <= moment < window.end
    assert not window.previous(1).contains(moment)
    assert not window.previous(-1).contains(moment)


@given(KINDS, MOMENTS)
def test_windows_tile_time(kind: WindowKind, moment: dt.datetime) -> None:
    window = window_of(kind, moment)
    assert window.previous(1).end == window.start
    assert window.end == window.previous(-1).start
    assert window_of(kind, window.start) == window
    assert window_of(kind, window.end - dt.timedelta(microseconds=1)) == window
    assert window_of(kind, window.end) == window.previous(-1)
    assert window.start.tzinfo == UTC and window.start.time() == dt.time()


@given(KINDS, MOMENTS)
def test_label_and_window_round_trip(kind: WindowKind, moment: dt.datetime) -> None:
    window = window_of(kind, moment)
    assert parse_window(kind, window.label) == window
    assert parse_window(kind.value, str(window)) == window
    assert parse_window(kind, window.label).label == window.label


@given(KINDS, MOMENTS, st.integers(min_value=-400, max_value=400))
def test_previous_composes_and_counts_windows(kind: WindowKind, moment: dt.datetime,
                                              n: int) -> None:
    window = window_of(kind, moment)
    assert window.previous(n).previous(-n) == window
    earlier = window.previous(abs(n))
    assert earlier.start <= window.start
    assert (earlier == window) == (n == 0)


@given(MOMENTS)
def test_weeks_agree_with_the_report_periods(moment: dt.datetime) -> None:
    window = window_of(WindowKind.WEEK, moment)
    assert window.label == str(week_of(moment))
    assert window.weeks == 1.0


@given(KINDS, MOMENTS)
def test_length_in_weeks_follows_the_calendar(kind: WindowKind, moment: dt.datetime) -> None:
    window = window_of(kind, moment)
    days = {WindowKind.WEEK: (7, 7), WindowKind.MONTH: (28, 31),
            WindowKind.QUARTER: (90, 92)}[kind]
    assert days[0] / 7 <= window.weeks <= days[1] / 7


@pytest.mark.parametrize(("kind", "label", "start", "end"), [
    ("week", "2026-W48", dt.datetime(2026, 11, 23), dt.datetime(2026, 11, 30)),
    ("week", "2026-W01", dt.datetime(2025, 12, 29), dt.datetime(2026, 1, 5)),
    ("week", "2026-W53", dt.datetime(2026, 12, 28), dt.datetime(2027, 1, 4)),
    ("month", "2026-11", dt.datetime(2026, 11, 1), dt.datetime(2026, 12, 1)),
    ("month", "2024-02", dt.datetime(2024, 2, 1), dt.datetime(2024, 3, 1)),
    ("quarter", "2026-Q4", dt.datetime(2026, 10, 1), dt.datetime(2027, 1, 1)),
    ("quarter", "2026-Q1", dt.datetime(2026, 1, 1), dt.datetime(2026, 4, 1)),
])
def test_known_windows(kind: str, label: str, start: dt.datetime, end: dt.datetime) -> None:
    window = parse_window(kind, label)
    assert (window.start, window.end) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
    assert window.label == label


def test_budget_year_is_the_iso_year_for_weeks_and_the_calendar_year_otherwise() -> None:
    first_week = parse_window("week", "2026-W01")
    assert first_week.start.year == 2025
    assert first_week.budget_year == 2026
    last_week = parse_window("week", "2026-W53")
    assert last_week.end.year == 2027 and last_week.budget_year == 2026
    assert parse_window("quarter", "2026-Q4").budget_year == 2026
    assert parse_window("month", "2027-01").budget_year == 2027


def test_quarter_lengths_in_weeks() -> None:
    assert parse_window("quarter", "2026-Q1").weeks == pytest.approx(90 / 7)
    assert parse_window("quarter", "2024-Q1").weeks == pytest.approx(91 / 7)
    assert parse_window("quarter", "2026-Q3").weeks == pytest.approx(92 / 7)


def test_last_ended_is_the_window_before_now() -> None:
    now = dt.datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert last_ended("quarter", now).label == "2026-Q1"
    assert last_ended("quarter", now - dt.timedelta(microseconds=1)).label == "2025-Q4"
    assert last_ended("month", now).label == "2026-03"
    assert last_ended(WindowKind.WEEK, now).label == "2026-W13"
    assert last_ended("week", now).end <= now


@pytest.mark.parametrize(("kind", "label"), [
    ("week", "2026-W54"), ("week", "2025-W53"), ("week", "2026-11"), ("week", "2026-W00"),
    ("month", "2026-13"), ("month", "2026-00"), ("month", "2026-1"), ("month", "2026-Q4"),
    ("quarter", "2026-Q0"), ("quarter", "2026-Q5"), ("quarter", "2026-W48"),
    ("quarter", "0000-Q1"), ("month", "9999-12"), ("quarter", ""), ("month", "26-11"),
])
def test_bad_labels_say_the_expected_form(kind: str, label: str) -> None:
    with pytest.raises(PeriodError):
        parse_window(kind, label)


def test_error_messages_name_the_form() -> None:
    with pytest.raises(PeriodError, match="YYYY-Qn"):
        parse_window("quarter", "2026-13")
    with pytest.raises(PeriodError, match="week, month, quarter"):
        window_kind("fortnight")
    with pytest.raises(PeriodError, match="not a release window"):
        parse_window("year", "2026")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(PeriodError, match="timezone-aware"):
        window_of("month", dt.datetime(2026, 5, 5))
    with pytest.raises(PeriodError, match="timezone-aware"):
        parse_window("month", "2026-05").contains(dt.datetime(2026, 5, 5))


def test_the_window_of_an_instant_does_not_depend_on_the_zone_it_is_written_in() -> None:
    # 23:30 on 31 March in UTC-2 is already April (Q2) in UTC.
    moment = dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    assert window_of("quarter", moment).label == "2026-Q2"


def test_shifting_past_the_supported_years_is_a_period_error() -> None:
    with pytest.raises(PeriodError, match="out of range"):
        parse_window("week", "0001-W01").previous(1)
    with pytest.raises(PeriodError, match="years"):
        parse_window("quarter", "9998-Q4").previous(-1)
    with pytest.raises(PeriodError, match="years"):
        Window(WindowKind.MONTH, 9998, 12).end  # noqa: B018


def test_kinds_are_plain_strings_on_the_wire() -> None:
    assert [k.value for k in WindowKind] == ["week", "month", "quarter"]
    assert WindowKind("quarter") == "quarter"
