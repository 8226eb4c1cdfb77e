"""Report periods: ISO weeks such as "2026-W48", bounded in UTC so every client agrees."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from worktally.client.wire.errors import PeriodError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class IsoWeek:
    year: int
    week: int

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"

    @property
    def start(self) -> dt.datetime:
        """Monday 00:00 UTC, inclusive."""
        day = dt.date.fromisocalendar(self.year, self.week, 1)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The next Monday 00:00 UTC, exclusive."""
        return self.start + dt.timedelta(days=7)

    def shifted(self, weeks: int) -> IsoWeek:
        return week_of(self.start + dt.timedelta(weeks=weeks))


def week_of(moment: dt.datetime) -> IsoWeek:
    year, week, _ = moment.astimezone(dt.UTC).isocalendar()
    return IsoWeek(year, week)


def parse_week(text: str) -> IsoWeek:
    """Parse "YYYY-Www"; a PeriodError says the expected form."""
    match = _WEEK.match(text.strip())
    if match:
        year, week = int(match.group(1)), int(match.group(2))
        try:
            dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            pass
        else:
            return IsoWeek(year, week)
    raise PeriodError(f"{text!r} is not an ISO week; write it YYYY-Www, like 2026-W48")


def local_week_of(now: float) -> IsoWeek:
    year, week, _ = dt.datetime.fromtimestamp(now).isocalendar()
    return IsoWeek(year, week)


def local_bounds(week: IsoWeek) -> tuple[dt.datetime, dt.datetime]:
    """The week in the machine's local time, for the developer's own views (not reports)."""
    monday = dt.date.fromisocalendar(week.year, week.week, 1)
    start = dt.datetime.combine(monday, dt.time()).astimezone()
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time()).astimezone()
    return start, end


def last_complete_week(now: dt.datetime | None = None) -> IsoWeek:
    """The default report period: the most recent week that has fully ended."""
    return week_of(now or dt.datetime.now(dt.UTC)).shifted(-1)
