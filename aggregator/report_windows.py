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
from typing import TYPE_CHECKING

import duckdb

from worktally.aggregator import local_reports
from worktally.client.wire.errors import PeriodError
from worktally.client.wire.windows import Window, parse_window, window_of

if TYPE_CHECKING:
    from worktally.aggregator.provisioning import Cohort

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


@dataclass(frozen=True)
class WindowState:
    """One cohort-window as an operator sees it: open (running), ended (releasable), held
    or released; whether reports are still taken, and how many were taken."""

    cohort: str
    window: str
    start: str
    end: str
    state: str  # open | ended | held | released
    accepts_reports: bool
    reports: int
    hold_reason: str | None = None
    released_at: str | None = None


def window_states(con: duckdb.DuckDBPyConnection, cohorts: list[Cohort],
                  now: dt.datetime) -> list[WindowState]:
    """Every window of these cohorts that takes reports now or holds anything (reports,
    a hold, a release), oldest first per cohort."""
    out = []
    for cohort in cohorts:
        task = con.execute("SELECT task_id FROM dap_tasks WHERE cohort = ?",
                           [cohort.name]).fetchone()
        labels: set[str] = set()
        current = window_of(cohort.window, now)
        if not cohort.retired:
            oldest = oldest_open(cohort.window, now)
            labels |= {current.previous(i).label
                       for i in range(REPORT_WINDOWS_BACK + 1)
                       if current.previous(i).start >= oldest.start}
        labels |= {r[0] for r in con.execute(
            "SELECT period FROM releases WHERE cohort = ? UNION SELECT period FROM holds "
            "WHERE cohort = ? UNION SELECT period FROM local_reports WHERE cohort = ? UNION "
            "SELECT period FROM contributions WHERE cohort = ?",
            [cohort.name] * 4).fetchall()}
        if task is not None:
            labels |= {r[0] for r in con.execute(
                "SELECT DISTINCT window_label FROM dap_receipts WHERE task_id = ?",
                [task[0]]).fetchall()}
        windows = sorted((parse_window(cohort.window, label) for label in labels
                          if _is_label(cohort.window, label)), key=lambda w: w.start)
        for window in windows:
            out.append(_state(con, cohort, task[0] if task else None, window, now))
    return out


def _is_label(kind: str, label: str) -> bool:
    try:
        return parse_window(kind, label).label == label
    except PeriodError:
        return False


def _state(con: duckdb.DuckDBPyConnection, cohort: Cohort, task_id: bytes | None,
           window: Window, now: dt.datetime) -> WindowState:
    label = window.label
    released = con.execute("SELECT released_at, n FROM releases WHERE cohort = ? AND "
                           "period = ?", [cohort.name, label]).fetchone()
    hold = con.execute("SELECT reason FROM holds WHERE cohort = ? AND period = ?",
                       [cohort.name, label]).fetchone()
    if released is not None:
        reports = int(released[1])
    elif task_id is not None:
        row = con.execute("SELECT count(*) FROM dap_receipts WHERE task_id = ? AND "
                          "window_label = ? AND state <> 'rejected'", [task_id, label]).fetchone()
        reports = int(row[0]) if row else 0
    else:
        reports = local_reports.count(con, cohort.name, label)
    state = ("released" if released is not None else "held" if hold is not None
             else "open" if window.end > now else "ended")
    accepts = (released is None and not cohort.retired
               and takes_reports(window, now) is None)
    return WindowState(cohort.name, label, window.start.isoformat(), window.end.isoformat(),
                       state, accepts, reports, hold[0] if hold else None,
                       released[0].isoformat() if released is not None else None)
