"""The private "window" batch mode: a batch is (task, release window), and the window a report
belongs to travels in a public report extension, so both aggregators can bucket it.

Window labels (`2026-W48`, `2026-11`, `2026-Q4`) and their UTC bounds come from
`worktally.client.wire.windows`; until that module lands, `_bounds` below parses the three
label forms itself (the seam is `window_bounds`).
"""

from __future__ import annotations

import datetime as dt
import re

from worktally.client.wire.dap.aggregation import BatchMode, Query
from worktally.client.wire.dap.codec import DapError, Reader, opaque
from worktally.client.wire.dap.messages import Extension, ReportMetadata

# Private-use code points (DAP's registries have no private range; these sit at the top).
WINDOW_EXTENSION = 0xFF57
WINDOW_KINDS = ("week", "month", "quarter")
_LABELS = {
    "week": re.compile(r"([0-9]{4})-W([0-9]{2})"),
    "month": re.compile(r"([0-9]{4})-([0-9]{2})"),
    "quarter": re.compile(r"([0-9]{4})-Q([1-4])"),
}


def window_bounds(kind: str, label: str) -> tuple[dt.datetime, dt.datetime]:
    """The window's UTC bounds `[start, end)`; DapError for a label not of this kind."""
    if kind not in _LABELS:
        raise DapError(f"unknown window kind {kind!r}; use one of {', '.join(WINDOW_KINDS)}")
    bounds = _bounds(kind, label) if isinstance(label, str) else None
    if bounds is None:
        example = {"week": "2026-W48", "month": "2026-11", "quarter": "2026-Q4"}[kind]
        raise DapError(f"{label!r} is not a {kind} window label like {example}")
    return bounds


def _bounds(kind: str, label: str) -> tuple[dt.datetime, dt.datetime] | None:
    match = _LABELS[kind].fullmatch(label)
    if match is None:
        return None
    year, part = int(match.group(1)), int(match.group(2))
    if year < 1970:
        return None
    if kind == "week":
        try:
            day = dt.date.fromisocalendar(year, part, 1)
        except ValueError:
            return None
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        return start, start + dt.timedelta(days=7)
    first_month = part if kind == "month" else 3 * (part - 1) + 1
    if not 1 <= first_month <= 12:
        return None
    months = 1 if kind == "month" else 3
    start = dt.datetime(year, first_month, 1, tzinfo=dt.UTC)
    end_month = first_month + months
    end = dt.datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def window_of(kind: str, moment: dt.datetime) -> str:
    """The label of the window of `kind` containing `moment`."""
    moment = moment.astimezone(dt.UTC)
    if kind == "week":
        year, week, _ = moment.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if kind == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if kind == "quarter":
        return f"{moment.year:04d}-Q{(moment.month - 1) // 3 + 1}"
    raise DapError(f"unknown window kind {kind!r}")


def last_ended(kind: str, now: dt.datetime) -> str:
    """The most recent window of `kind` that has fully ended at `now`."""
    start, _ = window_bounds(kind, window_of(kind, now))
    return window_of(kind, start - dt.timedelta(seconds=1))


def window_query(label: str) -> Query:
    """The Query / BatchSelector naming one window of the task."""
    return Query(BatchMode.WORKTALLY_WINDOW, opaque(_label_bytes(label), 1, "window label", 1))


def query_window(query: Query) -> str:
    """The window label a Query / BatchSelector names; DapError for another batch mode."""
    if query.batch_mode is not BatchMode.WORKTALLY_WINDOW:
        raise DapError(f"batch mode {query.batch_mode.name} is not this task's window mode")
    r = Reader(query.config, "window batch selector")
    raw = r.opaque(1, "window label", 1)
    r.finish()
    return _label_text(raw)


def window_extension(label: str) -> Extension:
    return Extension(WINDOW_EXTENSION, _label_bytes(label))


def report_window(metadata: ReportMetadata) -> str:
    """The window a report's metadata names; DapError unless it carries exactly the window
    extension (DAP: unknown extensions invalidate the report)."""
    exts = metadata.public_extensions
    if len(exts) != 1 or exts[0].type != WINDOW_EXTENSION:
        raise DapError("a report carries exactly one public extension: its window")
    return _label_text(exts[0].data)


def _label_bytes(label: str) -> bytes:
    if not isinstance(label, str) or not label.isascii() or not 1 <= len(label) <= 32:
        raise DapError("a window label is 1-32 ASCII characters")
    return label.encode("ascii")


def _label_text(raw: bytes) -> str:
    if not 1 <= len(raw) <= 32 or not raw.isascii():
        raise DapError("a window label is 1-32 ASCII characters")
    return raw.decode("ascii")
