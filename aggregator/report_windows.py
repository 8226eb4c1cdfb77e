"""Which release windows take reports, in both modes: the current window and the last
`REPORT_WINDOWS_BACK` ended ones. Older windows are closed to reports (a report for 2019-W01
is refused), and a window that has not started is not open yet.

Two ended windows give a developer who was away a full window to send late, while a window's
figures stop moving soon after it ends. Releasing does not wait for the horizon: a released
window is closed at once (`releases.py`, `dap/collection.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from worktally.client.wire.windows import Window, window_of

REPORT_WINDOWS_BACK = 2
# Clients' clocks may run a little ahead: a window opens for reports from its start, less
# half a day.
WINDOW_SKEW = dt.timedelta(hours=12)


@dataclass(frozen=True)
class Refusal:
    """Why a window takes no reports: a stable `reason` code and a sentence that says what
    to do."""

    reason: str  # window_not_started | window_closed
    detail: str


def oldest_open(kind: str, now: dt.datetime) -> Window:
    """The oldest window of `kind` that still takes reports at `now`."""
    return window_of(kind, now).previous(REPORT_WINDOWS_BACK)


def takes_reports(window: Window, now: dt.datetime) -> Refusal | None:
    """None if reports for `window` are accepted at `now`, else why not."""
    if window.start - WINDOW_SKEW > now:
        return Refusal("window_not_started",
                       f"{window.label} has not started by the aggregator's clock; reports "
                       f"for it open at {window.start.isoformat()}")
    oldest = oldest_open(window.kind, now)
    if window.start < oldest.start:
        return Refusal("window_closed",
                       f"{window.label} is closed to reports: the aggregator takes reports "
                       f"for the current {window.kind} and the {REPORT_WINDOWS_BACK} before "
                       f"it ({oldest.label} onwards)")
    return None
