"""Release windows: the ISO week, calendar month or calendar quarter a cohort releases per.

A window is a half-open UTC interval [start, end) named by a label ("2026-W48", "2026-11",
"2026-Q4") that every client and both aggregators derive the same way. Weeks are the ISO
weeks of `periods`; months and quarters are calendar ones. The yearly privacy budget is
charged to `budget_year`: the ISO year for a week (so week 1 counts in the year it is
numbered in, even when its Monday falls in December), the calendar year otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from worktally.client.wire.errors import PeriodError
from worktally.client.wire.periods import IsoWeek, parse_week, week_of

# The shape of a label of any kind (the envelope's and the API's first check); only
# `parse_window` with the cohort's kind says whether it names a real window of that kind.
LABEL_PATTERN = r"^[0-9]{4}-(W(0[1-9]|[1-4][0-9]|5[0-3])|0[1-9]|1[0-2]|Q[1-4])$"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q(\d)$")
# Year 9999's last window would end in year 10000, which datetime cannot hold.
_MIN_YEAR, _MAX_YEAR = 1, 9998
_WEEK_SECONDS = 7 * 24 * 3600


class WindowKind(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


# Windows per budget year, nominally: an ISO year has 52 or 53 weeks, so a weekly policy of
# cap/52 per release cannot fund the 53rd week (the client's ledger refuses it).
WINDOWS_PER_YEAR = {WindowKind.WEEK: 52, WindowKind.MONTH: 12, WindowKind.QUARTER: 4}
# How many months one window spans, for the calendar kinds.
_MONTHS = {WindowKind.MONTH: 1, WindowKind.QUARTER: 3}
_FORMS = {WindowKind.WEEK: "YYYY-Www, like 2026-W48", WindowKind.MONTH: "YYYY-MM, like 2026-11",
          WindowKind.QUARTER: "YYYY-Qn, like 2026-Q4"}


@dataclass(frozen=True)
class Window:
    """One release window. `number` is the ISO week (1-53), month (1-12) or quarter (1-4) of
    `year` (the ISO year for weeks). Build it with `parse_window` or `window_of`, which check
    that the number exists in that year."""

    kind: WindowKind
    year: int
    number: int

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The canonical form that `parse_window` reads back."""
        if self.kind is WindowKind.WEEK:
            return str(IsoWeek(self.year, self.number))
        if self.kind is WindowKind.MONTH:
            return f"{self.year:04d}-{self.number:02d}"
        return f"{self.year:04d}-Q{self.number}"

    @property
    def start(self) -> dt.datetime:
        """The first instant of the window, UTC, inclusive."""
        if self.kind is WindowKind.WEEK:
            return IsoWeek(self.year, self.number).start
        month = (self.number - 1) * _MONTHS[self.kind] + 1
        return dt.datetime(self.year, month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the window, UTC, exclusive: the next window's start."""
        if self.kind is WindowKind.WEEK:
            return IsoWeek(self.year, self.number).end
        return self.previous(-1).start

    @property
    def budget_year(self) -> int:
        """The calendar year whose privacy budget a release in this window spends."""
        return self.year

    @property
    def weeks(self) -> float:
        """The window's length in weeks (a quarter is about 13), for per-week volumes."""
        return (self.end - self.start).total_seconds() / _WEEK_SECONDS

    def contains(self, moment: dt.datetime) -> bool:
        return self.start <= _utc(moment) < self.end

    def previous(self, n: int = 1) -> Window:
        """The window `n` windows earlier of the same kind (a negative `n` goes forward)."""
        if self.kind is WindowKind.WEEK:
            try:
                shifted = IsoWeek(self.year, self.number).shifted(-n)
            except OverflowError:
                raise PeriodError(f"{n} weeks before {self.label} is out of range") from None
            return _checked(self.kind, shifted.year, shifted.week)
        per_year = 12 // _MONTHS[self.kind]
        year, index = divmod(self.year * per_year + (self.number - 1) - n, per_year)
        return _checked(self.kind, year, index + 1)


def window_kind(kind: WindowKind | str) -> WindowKind:
    """The kind named by `kind`; a PeriodError lists the known kinds."""
    try:
        return WindowKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in WindowKind)
        raise PeriodError(f"{kind!r} is not a release window; use one of {known}") from None


def parse_window(kind: WindowKind | str, label: str) -> Window:
    """Read a label of the given kind; a PeriodError says the expected form."""
    kind = window_kind(kind)
    text = label.strip()
    if kind is WindowKind.WEEK:
        try:
            week = parse_week(text)
        except PeriodError:
            pass
        else:
            return _checked(kind, week.year, week.week)
    else:
        pattern = _MONTH if kind is WindowKind.MONTH else _QUARTER
        match = pattern.match(text)
        if match:
            year, number = int(match.group(1)), int(match.group(2))
            if 1 <= number <= 12 // _MONTHS[kind]:
                return _checked(kind, year, number)
    raise PeriodError(f"{label!r} is not a {kind.value} window; write it {_FORMS[kind]}")


def parse_label(label: str) -> Window:
    """The window a canonical label names, its kind read from the label's shape (`W` a week,
    `Q` a quarter, otherwise a month): for views that list windows of several kinds."""
    if not re.fullmatch(LABEL_PATTERN, label):
        raise PeriodError(f"{label!r} is not a window label (2026-W48, 2026-11 or 2026-Q4)")
    kind = (WindowKind.WEEK if "W" in label else
            WindowKind.QUARTER if "Q" in label else WindowKind.MONTH)
    return parse_window(kind, label)


def window_of(kind: WindowKind | str, moment: dt.datetime) -> Window:
    """The window of this kind that contains `moment` (which must carry a time zone)."""
    kind = window_kind(kind)
    utc = _utc(moment)
    if kind is WindowKind.WEEK:
        week = week_of(utc)
        return _checked(kind, week.year, week.week)
    return _checked(kind, utc.year, (utc.month - 1) // _MONTHS[kind] + 1)


def last_ended(kind: WindowKind | str, now: dt.datetime) -> Window:
    """The most recent window that has fully ended at `now`: the one a client reports for."""
    return window_of(kind, now).previous(1)


def _utc(moment: dt.datetime) -> dt.datetime:
    # A naive datetime would be read in the machine's zone, and two machines would disagree
    # on the window of the same instant.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PeriodError("a window needs a timezone-aware time (UTC), not a naive datetime")
    return moment.astimezone(dt.UTC)


def _checked(kind: WindowKind, year: int, number: int) -> Window:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise PeriodError(f"windows exist for years {_MIN_YEAR} to {_MAX_YEAR}, not {year}")
    return Window(kind, year, number)
