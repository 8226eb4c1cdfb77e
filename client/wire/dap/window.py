"""The private "window" batch mode: a batch is (task, release window), and the window a report
belongs to travels in a public report extension, so both aggregators can bucket it.

Labels and bounds are `worktally.client.wire.windows`'; this module only carries a label on
the wire and turns a bad one into a DapError.
"""

from __future__ import annotations

import datetime as dt

from worktally.client.wire.dap.aggregation import BatchMode, Query
from worktally.client.wire.dap.codec import DapError, Reader, opaque
from worktally.client.wire.dap.messages import Extension, ReportMetadata
from worktally.client.wire.errors import PeriodError
from worktally.client.wire.windows import WindowKind, parse_window
from worktally.client.wire.windows import last_ended as _last_ended
from worktally.client.wire.windows import window_of as _window_of

# Private-use code points (DAP's registries have no private range; these sit at the top).
WINDOW_EXTENSION = 0xFF57
WINDOW_KINDS = tuple(kind.value for kind in WindowKind)


def window_bounds(kind: str, label: str) -> tuple[dt.datetime, dt.datetime]:
    """The window's UTC bounds `[start, end)`; DapError for a label not of this kind, or
    not in canonical form (two spellings of one window would be two batches)."""
    try:
        window = parse_window(kind, label) if isinstance(label, str) else None
    except PeriodError as exc:
        raise DapError(str(exc)) from exc
    if window is None or window.label != label:
        raise DapError(f"{label!r} is not a canonical {kind} window label")
    return window.start, window.end


def window_of(kind: str, moment: dt.datetime) -> str:
    """The label of the window of `kind` containing `moment`."""
    try:
        return _window_of(kind, moment).label
    except PeriodError as exc:
        raise DapError(str(exc)) from exc


def last_ended(kind: str, now: dt.datetime) -> str:
    """The most recent window of `kind` that has fully ended at `now`."""
    try:
        return _last_ended(kind, now).label
    except PeriodError as exc:
        raise DapError(str(exc)) from exc


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
