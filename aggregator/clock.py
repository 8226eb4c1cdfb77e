"""The aggregator's clock: real UTC time plus an offset fixed once per process.

Windows are released only after they end, so a demo or a test that wants to release the
window it is in has to move time forward: `serve --clock-offset SECONDS` does that for one
process (the leader and the helper each need it). Every place the aggregator reads the time
(report windows, releases, token expiry, audit timestamps) calls `now()`. The offset only
moves forward, and at most a few years: it exists to skip to a window's end, not to rewrite
history.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from worktally.aggregator.errors import AggregatorError

# Three years: past the end of any window and a budget year's turn, with room to spare.
MAX_OFFSET_SECONDS = 3 * 366 * 24 * 3600

_offset: timedelta | None = None


class ClockError(AggregatorError):
    """An offset that is negative, absurd, or a second different one in the same process."""


def check_offset(seconds: float) -> timedelta:
    """The offset for `seconds`, or a ClockError saying what is allowed."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
            or not math.isfinite(seconds):
        raise ClockError("--clock-offset must be a number of seconds")
    if seconds < 0:
        raise ClockError("--clock-offset cannot be negative: windows would reopen")
    if seconds > MAX_OFFSET_SECONDS:
        raise ClockError(f"--clock-offset is at most {MAX_OFFSET_SECONDS} seconds (three "
                         "years); it is for demos and tests that skip to a window's end")
    return timedelta(seconds=seconds)


def set_offset(seconds: float) -> timedelta:
    """Fix this process's offset. Setting the same value again is allowed; another is not,
    since two parts of one process must never disagree on the time."""
    global _offset
    offset = check_offset(seconds)
    if _offset is not None and _offset != offset:
        raise ClockError(f"the clock offset is already {_offset.total_seconds():g} s in this "
                         "process")
    _offset = offset
    return offset


def offset() -> timedelta:
    return _offset or timedelta(0)


def now() -> datetime:
    """The current time, UTC, with this process's offset."""
    return datetime.now(UTC) + offset()
