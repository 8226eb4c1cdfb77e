"""Drives the parsers over transcript files: incrementally into the DB, or whole into records.

Each file's new lines are stored with the drain's writers in one transaction together with
the file's new cursor, so a crash replays the same lines and, the writers being idempotent,
never doubles them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from worktally.client.capture.records import TokenUsage
from worktally.client.importers import offsets, workers
from worktally.client.importers.batch import ImportBatch, better_usage
from worktally.client.importers.codex import LineReader
from worktally.client.importers.context import ImportContext
from worktally.client.importers.reading import LINES_PER_TRANSACTION, read_file, read_whole
from worktally.client.store import drain
from worktally.client.store.transaction import transaction

log = logging.getLogger(__name__)

# Below this many new bytes starting child processes costs more than it saves.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024

Progress = Callable[[int], None]


@dataclass
class ImportSummary:
    """What one import run read, merged across its files (the CLI prints it)."""

    tool: str
    files: int = 0
    usages: dict[str, TokenUsage] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    edit_ids: set[str] = field(default_factory=set)
    malformed_lines: int = 0
    failed_tool_calls: int = 0

    def absorb(self, batch: ImportBatch) -> None:
        for usage in batch.usages.values():
            old = self.usages.get(usage.usage_id)
            if old is None or better_usage(old, usage):
                self.usages[usage.usage_id] = usage
        self.sessions.update(batch.sessions)
        self.edit_ids.update(batch.edits)
        self.malformed_lines += batch.malformed_lines
        self.failed_tool_calls += batch.failed_tool_calls

    def counts(self) -> dict[str, int]:
        return {"files": self.files, "sessions": len(self.sessions),
                "edits": len(self.edit_ids), "token_records": len(self.usages),
                "malformed_lines": self.malformed_lines}


def store_batch(con: duckdb.DuckDBPyConnection, batch: ImportBatch,
                cursors: Sequence[offsets.Cursor]) -> None:
    """Write one batch and the cursors that cover it atomically."""
    with transaction(con):
        if batch.sessions:
            drain.write_sessions(con, list(batch.sessions.values()))
        if batch.usages:
            drain.write_token_usage(con, list(batch.usages.values()))
        if batch.edits:
            drain.write_edits(con, list(batch.edits.values()))
        offsets.save(con, cursors)


class _Group:
    """Slices of several files waiting for one transaction (a commit costs a WAL flush)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, tool: str) -> None:
        self.con = con
        self.tool = tool
        self.batch = ImportBatch(tool)
        self.cursors: dict[str, offsets.Cursor] = {}
        self.lines = 0

    def add(self, batch: ImportBatch, cursor: offsets.Cursor, lines: int) -> None:
        self.batch.merge(batch)
        self.cursors[cursor.file_key] = cursor
        self.lines += lines
        if self.lines >= LINES_PER_TRANSACTION:
            self.flush()

    def flush(self) -> None:
        if not self.cursors:
            return
        if self.batch.malformed_lines:
            # Counts only: a malformed line may hold a prompt, so its text is never logged.
            log.warning("%s transcripts: skipped %d malformed line(s)", self.tool,
                        self.batch.malformed_lines)
        store_batch(self.con, self.batch, list(self.cursors.values()))
        self.batch = ImportBatch(self.tool)
        self.cursors = {}
        self.lines = 0


def import_files(con: duckdb.DuckDBPyConnection, ctx: ImportContext, tool: str,
                 files: Iterable[Path], progress: Progress | None = None) -> ImportSummary:
    """Import the new complete lines of every file; returns what this run read."""
    summary = ImportSummary(tool)
    group = _Group(con, tool)
    known = offsets.load_all(con, tool)
    files = list(files)
    jobs = _parallel_jobs(known, ctx, files)
    if jobs is not None:
        _import_parallel(ctx, tool, jobs, summary, group, progress)
        group.flush()
        return summary
    for path in files:
        summary.files += 1
        try:
            for batch, cursor, lines in read_file(known, ctx, tool, path):
                summary.absorb(batch)
                group.add(batch, cursor, lines)
        except OSError as exc:
            # A transcript deleted or rotated mid-run is picked up again next time.
            log.warning("%s transcript unreadable this run: %s", tool, exc.strerror)
            continue
        if progress is not None:
            progress(_size(path))
    group.flush()
    return summary


def _import_parallel(ctx: ImportContext, tool: str, jobs: list[tuple[workers.FileJob, int]],
                     summary: ImportSummary, group: _Group, progress: Progress | None) -> None:
    """Children parse while this process stores what they return, in file order."""
    groups = workers.split_jobs(jobs)
    count = min(workers.worker_count(), len(groups))
    for result in workers.parse_parallel(ctx, tool, groups, count):
        summary.files += 1
        if result.error is not None:
            # The whole file waits for the next run (its cursor did not move).
            log.warning("%s transcript unreadable this run: %s", tool, result.error)
            continue
        for batch, cursor, lines in result.slices:
            summary.absorb(batch)
            group.add(batch, cursor, lines)
        if progress is not None:
            progress(_size(result.path))


def _parallel_jobs(known: dict[str, offsets.Cursor], ctx: ImportContext,
                   files: list[Path]) -> list[tuple[workers.FileJob, int]] | None:
    """Jobs with their new bytes when enough is new to pay for child processes, else None."""
    if len(files) < 2 or workers.worker_count() < 2:
        return None
    jobs: list[tuple[workers.FileJob, int]] = []
    total = 0
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            stat = None
        previous = known.get(offsets.file_key(ctx.keyer, path))
        # Only a guess to size the work; the child checks the cursor properly.
        done = previous.read_to if previous and stat and stat.st_size >= previous.read_to else 0
        new_bytes = max(0, stat.st_size - done) if stat else 0
        jobs.append((workers.FileJob(path, previous), new_bytes))
        total += new_bytes
    return jobs if total >= PARALLEL_MIN_BYTES else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _line_reader(path: Path) -> LineReader:
    """Reads one line of `path` back by offset (a parser looks behind for context)."""
    return lambda at: offsets.read_line_at(path, at)


def parse_whole(ctx: ImportContext, tool: str, files: Iterable[Path],
                progress: Progress | None = None) -> tuple[ImportSummary, list[Any]]:
    """Read files from the start without the DB (for the spool); returns merged records."""
    summary = ImportSummary(tool)
    merged = ImportBatch(tool)
    for path in files:
        try:
            batch, size = read_whole(ctx, tool, path)
        except OSError as exc:
            log.warning("%s transcript unreadable: %s", tool, exc.strerror)
            continue
        summary.files += 1
        if progress is not None:
            progress(size)
        summary.absorb(batch)
        merged.merge(batch)
    records: list[Any] = [*merged.sessions.values(), *merged.usages.values(),
                          *merged.edits.values()]
    return summary, records
