"""The language server's single writer thread: it keys settled lines and spools the events.

Hashing and fsync happen here, off the event loop, so a keystroke never waits for the disk;
a failed write is kept and retried with the next batch rather than dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import EditEvent, new_id
from worktally.client.capture.spool import Spool
from worktally.client.errors import SpoolError

log = logging.getLogger(__name__)

# Records kept for retry after failed writes; beyond this the oldest are dropped (and logged).
MAX_RETRY_RECORDS = 50_000


@dataclass(frozen=True)
class PendingEdit:
    """A settled run of lines with its current text; it exists only in this process's memory."""

    source: str
    tool: str | None
    kind: str | None
    model: str | None
    file_id: str
    repo_id: str | None
    language: str
    texts: tuple[str, ...]
    line_count: int
    event_id: str = field(default_factory=new_id)
    # An earlier edit whose count of these same lines this one takes over (a late signal).
    supersedes: str | None = None
    superseded_source: str | None = None


def to_event(edit: PendingEdit, keyer: LineKeyer) -> EditEvent:
    return EditEvent(
        source=edit.source,
        keys=tuple(keyer.keys(edit.texts)),
        file_id=edit.file_id,
        repo_id=edit.repo_id,
        language=edit.language,
        tool=edit.tool,
        kind=edit.kind,
        model=edit.model,
        line_count=edit.line_count,
        origin="lsp",
        event_id=edit.event_id,
        supersedes=edit.supersedes,
    )


class SessionCounts:
    """Lines this server spooled today, by source (the status bar's fallback without agent)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._day = dt.date.today()
        self._counts: dict[str, int] = {}

    def add(self, source: str, lines: int) -> None:
        with self._lock:
            self._roll()
            self._counts[source] = self._counts.get(source, 0) + lines

    def today(self) -> dict[str, int]:
        with self._lock:
            self._roll()
            return dict(self._counts)

    def _roll(self) -> None:
        today = dt.date.today()
        if today != self._day:
            self._day, self._counts = today, {}


class SpoolWriter:
    """One daemon thread fed by a queue; `wait_idle` lets shutdown make sure nothing is lost."""

    def __init__(self, keyer: LineKeyer, spool_root: Path | None = None) -> None:
        self._keyer = keyer
        self._spool = Spool(spool_root)
        self._queue: queue.Queue[list[Any] | None] = queue.Queue()
        self._retry: list[Any] = []
        # (source, lines) taken out of this session's counts once the retried edits land.
        self._retry_moved: list[tuple[str, int]] = []
        self._idle = threading.Condition()
        self._unfinished = 0
        self.counts = SessionCounts()
        self._thread = threading.Thread(target=self._run, name="worktally-spool", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[PendingEdit | Any]) -> None:
        """Queue edits and records (e.g. RepoRegistration) to be written as one batch."""
        if not items:
            return
        with self._idle:
            self._unfinished += 1
        self._queue.put(list(items))

    def wait_idle(self, timeout: float) -> bool:
        """Block until every submitted batch was written (or failed); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self, timeout: float) -> bool:
        idle = self.wait_idle(timeout)
        self._queue.put(None)
        self._thread.join(timeout)
        return idle

    def _run(self) -> None:
        while True:
            items = self._queue.get()
            if items is None:
                return
            try:
                self._write(items)
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()

    def _write(self, items: list[Any]) -> None:
        records: list[Any] = []
        moved: list[tuple[str, int]] = []
        for item in items:
            if isinstance(item, PendingEdit):
                records.append(to_event(item, self._keyer))
                if item.superseded_source is not None:
                    moved.append((item.superseded_source, item.line_count))
            else:
                records.append(item)
        batch = self._retry + records
        moved = self._retry_moved + moved
        try:
            self._spool.write(batch)
        except SpoolError as exc:
            self._retry = batch[-MAX_RETRY_RECORDS:]
            self._retry_moved = moved
            dropped = len(batch) - len(self._retry)
            log.error("could not spool %d records, will retry (%d dropped): %s",
                      len(batch), dropped, exc)
            return
        self._retry, self._retry_moved = [], []
        for record in batch:
            if isinstance(record, EditEvent):
                self.counts.add(record.source, record.line_count)
        # A superseding edit moves its lines out of the count they were first given.
        for source, lines in moved:
            self.counts.add(source, -lines)
