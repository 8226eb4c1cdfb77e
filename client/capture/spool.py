"""The durable hand-off between producers and the agent.

Producers never open the database. They write a batch to `tmp/`, fsync it, and rename it
into `new/` (atomic on POSIX), so the agent either sees a whole batch or none of it. The
agent drains a batch in one transaction that is idempotent on event ids, then deletes it:
a crash in between replays the batch and changes nothing.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.capture.records import EditEvent, from_dict, to_dict
from worktally.client.errors import SpoolError

BATCH_VERSION = 1
MAX_BATCH_BYTES = 64 * 1024 * 1024
# How much of a backlog `Spool.backlog` reads to count records (an editor waits for it).
BACKLOG_READ_BYTES = 8 * 1024 * 1024


def load_batch_document(path: Path) -> dict[str, Any]:
    """Read one batch file's JSON object, checking its size and version.

    Raises SpoolError for an oversized or unknown-version batch, and lets OSError or
    ValueError through so each reader wraps them with its own context.
    """
    raw = path.read_bytes()
    if len(raw) > MAX_BATCH_BYTES:
        raise SpoolError(f"batch {path.name} is larger than {MAX_BATCH_BYTES} bytes")
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("version") != BATCH_VERSION:
        raise SpoolError(f"batch {path.name} has an unknown version")
    return doc


@dataclass(frozen=True)
class Batch:
    batch_id: str
    path: Path
    records: list[Any]


@dataclass(frozen=True)
class Backlog:
    """What waits in `new/` for the agent, counted from the files alone (no database).

    `records` and `edit_lines` cover the batches read; reading stops at a byte budget, so
    with a huge backlog they are lower bounds and `complete` is False.
    """

    batches: int
    records: int
    edit_lines: int
    complete: bool = True

    def to_json(self) -> dict[str, int | bool]:
        return {"batches": self.batches, "records": self.records,
                "edit_lines": self.edit_lines, "complete": self.complete}


@dataclass(frozen=True)
class BadBatch:
    """A batch that could not be parsed; it is quarantined, never deleted."""

    path: Path
    reason: str


class Spool:
    def __init__(self, root: Path | None = None) -> None:
        self.root = paths.ensure_private_dir(root or paths.spool_dir())
        self.tmp = paths.ensure_private_dir(self.root / "tmp")
        self.new = paths.ensure_private_dir(self.root / "new")
        self.bad = paths.ensure_private_dir(self.root / "bad")

    def write(self, records: Iterable[Any]) -> Path | None:
        """Durably append one batch; returns its path, or None when there was nothing."""
        items = [to_dict(r) for r in records]
        if not items:
            return None
        batch_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        body = json.dumps({"version": BATCH_VERSION, "batch_id": batch_id, "records": items},
                          separators=(",", ":")).encode()
        tmp = self.tmp / f"{batch_id}.json"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, paths.FILE_MODE)
            try:
                os.write(fd, body)
                os.fsync(fd)
            finally:
                os.close(fd)
            final = self.new / tmp.name
            os.replace(tmp, final)
            _fsync_dir(self.new)
        except OSError as exc:
            raise SpoolError(f"could not write a spool batch: {exc.strerror}") from exc
        return final

    def pending(self) -> list[Path]:
        """Batches waiting to be drained, oldest first (names sort by creation time)."""
        return sorted(p for p in self.new.iterdir() if p.suffix == ".json")

    def backlog(self, max_bytes: int = BACKLOG_READ_BYTES,
                cache: dict[str, tuple[int, int]] | None = None) -> Backlog:
        """Count the pending batches, and their records and edit lines up to `max_bytes`.

        The oldest batches are read first; a batch that cannot be read counts as a batch
        only (the drain will quarantine it). A batch file never changes once in `new/`, so
        `cache` (file name -> records, edit lines), kept by a caller that asks often, spares
        re-reading it; only bytes read now count against `max_bytes`.
        """
        pending = self.pending()
        known = cache if cache is not None else {}
        records = lines = read = 0
        complete = True
        for path in pending:
            counted = known.get(path.name)
            if counted is None:
                try:
                    size = path.stat().st_size
                    if read + size > max_bytes:
                        complete = False
                        break
                    read += size
                    counted = _count_batch(load_batch_document(path))
                except (OSError, ValueError, SpoolError):
                    continue
                known[path.name] = counted
            records += counted[0]
            lines += counted[1]
        if cache is not None:
            names = {p.name for p in pending}
            for name in [n for n in cache if n not in names]:
                del cache[name]
        return Backlog(len(pending), records, lines, complete)

    def read(self, path: Path) -> Batch:
        """Parse a batch; raises SpoolError when it is corrupt (the caller quarantines it)."""
        try:
            doc = load_batch_document(path)
            records = [from_dict(r) for r in doc["records"]]
            return Batch(batch_id=str(doc["batch_id"]), path=path, records=records)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpoolError(f"batch {path.name} is unreadable: {exc}") from exc

    def batches(self) -> Iterator[Batch | BadBatch]:
        for path in self.pending():
            try:
                yield self.read(path)
            except SpoolError as exc:
                yield BadBatch(path=path, reason=str(exc))

    def done(self, batch: Batch) -> None:
        batch.path.unlink(missing_ok=True)

    def quarantine(self, path: Path) -> Path:
        """Move a corrupt batch aside, keeping its bytes for inspection."""
        target = self.bad / path.name
        os.replace(path, target)
        return target

    def clean_stale_tmp(self, older_than_s: float = 3600) -> int:
        """Remove half-written batches of producers that died before renaming."""
        cutoff = time.time() - older_than_s
        removed = 0
        for p in self.tmp.iterdir():
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                removed += 1
        return removed


def _count_batch(doc: dict[str, Any]) -> tuple[int, int]:
    """(records, lines of edit records) of one batch document."""
    items = doc.get("records")
    if not isinstance(items, list):
        return 0, 0
    lines = 0
    for item in items:
        if isinstance(item, dict) and item.get("type") == EditEvent.record_type:
            count = item.get("line_count")
            lines += count if isinstance(count, int) and count > 0 else 0
    return len(items), lines


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
