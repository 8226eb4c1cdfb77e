"""ISO week periods: every moment falls in exactly the week whose name parses back to it."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from worktally.client.wire.periods import last_complete_week, parse_week, week_of

moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31),
                       timezones=st.just(dt.UTC))


@given(moments)
def test_a_moment_lies_in_its_week_and_the_name_round_trips(moment: dt.datetime) -> None:
    week = week_of(moment)
    assert week.start <= moment < week.end
    assert week.start.weekday() == 0
    assert parse_week(str(week)) == week
    assert last_complete_week(moment).end == week.start
