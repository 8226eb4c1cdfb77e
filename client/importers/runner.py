"""Drives the parsers over transcript files: incrementally into the DB, or whole into records.

Each file's new lines are stored with the drain's writers in one transaction together with
the file's new cursor, so a crash replays the same lines and, the writers being idempotent,
never doubles them. Memory is bounded by a slice of lines, not by the files: what this run
read is summed as it goes, and the per-request rows the summary needs for deduplication
move into a temporary table once they pass SUMMARY_ROWS.
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
from worktally.client.importers.batch import ImportBatch, UsageRow, row_beats, usage_of
from worktally.client.importers.codex import LineReader
from worktally.client.importers.context import ImportContext
from worktally.client.importers.reading import (
    BYTES_PER_SLICE,
    LINES_PER_TRANSACTION,
    read_file,
    read_whole,
)
from worktally.client.store import drain, record_writers
from worktally.client.store.transaction import transaction

log = logging.getLogger(__name__)

# Below this many new bytes starting child processes costs more than it saves.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024
# A run holds this many distinct requests (and edit ids) in memory; beyond, the summary
# keeps them in a temporary table of the import's connection, written this many at a time.
SUMMARY_ROWS = 50_000
SPILL_CHUNK = 5_000
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")

Progress = Callable[[int], None]
ModelTotals = dict[str, dict[str, int]]


class SummaryTooLarge(RuntimeError):
    """The run's records were moved out of memory; use counts() and model_totals()."""


@dataclass
class ImportSummary:
    """What one import run read, merged across its files (the CLI prints it)."""

    tool: str
    files: int = 0
    # usage_id -> the best copy read in this run, while it fits in memory.
    rows: dict[str, UsageRow] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    edit_ids: set[str] = field(default_factory=set)
    malformed_lines: int = 0
    failed_tool_calls: int = 0
    _spill: _SummarySpill | None = field(default=None, repr=False)
    _final: tuple[int, int, ModelTotals] | None = field(default=None, repr=False)

    @property
    def usages(self) -> dict[str, TokenUsage]:
        """The run's token records by usage_id (runs small enough to hold in memory)."""
        if self._spill is not None or self._final is not None:
            raise SummaryTooLarge(f"{self.tool}: the run read too much to list its records")
        return {usage_id: usage_of(row) for usage_id, row in self.rows.items()}

    def absorb(self, batch: ImportBatch, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Add a batch; with `con`, records past SUMMARY_ROWS go to a temporary table."""
        if self._spill is not None:
            self._spill.add(batch.rows.values(), batch.edit_rows)
        else:
            rows = self.rows
            for row in batch.rows.values():
                old = rows.get(row[0])
                if old is None or row_beats(old, row):
                    rows[row[0]] = row
            self.edit_ids.update(batch.edit_rows)
            if con is not None and max(len(rows), len(self.edit_ids)) > SUMMARY_ROWS:
                self._spill = _SummarySpill(con)
                held, self.rows = list(rows.values()), {}
                while held:  # a chunk at a time: no second copy of everything at once
                    self._spill.add(held[-SPILL_CHUNK:], ())
                    del held[-SPILL_CHUNK:]
                ids, self.edit_ids = list(self.edit_ids), set()
                while ids:
                    self._spill.add((), ids[-SPILL_CHUNK:])
                    del ids[-SPILL_CHUNK:]
        self.sessions.update(batch.spans)
        self.malformed_lines += batch.malformed_lines
        self.failed_tool_calls += batch.failed_tool_calls

    def finish(self) -> None:
        """Sum what was moved out of memory and drop its table (before the DB closes)."""
        if self._spill is not None:
            self._final = self._spill.finish()
            self._spill = None

    def model_totals(self) -> ModelTotals:
        """Token fields and their total per model. A tool's own per-session account (origin
        'summary') counts only where no finer record of its session was read, the rule of
        the store's token_usage_effective view."""
        if self._final is not None:
            return self._final[2]
        finer = {row[1] for row in self.rows.values() if row[10] != "summary"}
        models: ModelTotals = {}
        for row in self.rows.values():
            if row[10] == "summary" and row[1] in finer:
                continue
            totals = models.setdefault(row[3], dict.fromkeys((*TOKEN_FIELDS, "total_tokens"), 0))
            counts = (row[5], row[6], row[7], row[8])
            for name, value in zip(TOKEN_FIELDS, counts, strict=True):
                totals[name] += value
            totals["total_tokens"] += sum(counts)
        return models

    def counts(self) -> dict[str, int]:
        if self._final is not None:
            records, edits, _ = self._final
        else:
            records, edits = len(self.rows), len(self.edit_ids)
        return {"files": self.files, "sessions": len(self.sessions),
                "edits": edits, "token_records": records,
                "malformed_lines": self.malformed_lines}


class _SummarySpill:
    """The run's token rows and edit ids in temporary tables, reduced when the run ends.

    Append-only (no index to hold in memory); the best copy of each request is picked at the
    end by the same rule as in memory, the earliest among equals.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        con.execute(
            "CREATE OR REPLACE TEMP TABLE import_run_usage (usage_id VARCHAR, "
            "session_id VARCHAR, model VARCHAR, input_tokens BIGINT, output_tokens BIGINT, "
            "cache_creation_tokens BIGINT, cache_read_tokens BIGINT, is_sidechain BOOLEAN, "
            "origin VARCHAR)"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE import_run_edits (event_id VARCHAR)")
        self.rows: list[tuple[Any, ...]] = []
        self.ids: list[str] = []

    def add(self, rows: Iterable[UsageRow], edit_ids: Iterable[str]) -> None:
        """Queue rows and ids; they are written SPILL_CHUNK at a time (a statement each)."""
        self.rows.extend((r[0], r[1], r[3], r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows)
        self.ids.extend(edit_ids)
        if len(self.rows) >= SPILL_CHUNK or len(self.ids) >= SPILL_CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            columns = [list(c) for c in zip(*self.rows, strict=True)]
            self.con.execute(
                "INSERT INTO import_run_usage SELECT " + ", ".join(
                    f"unnest(${i})" for i in range(1, len(columns) + 1)), columns)
            self.rows = []
        if self.ids:
            self.con.execute("INSERT INTO import_run_edits SELECT unnest($1)", [self.ids])
            self.ids = []

    def finish(self) -> tuple[int, int, ModelTotals]:
        con = self.con
        self.flush()
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE import_run_best AS SELECT * FROM import_run_usage "
                "QUALIFY row_number() OVER (PARTITION BY usage_id ORDER BY is_sidechain, "
                "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens "
                "DESC, rowid) = 1"
            )
            records = _one(con, "SELECT count(*) FROM import_run_best")
            edits = _one(con, "SELECT count(DISTINCT event_id) FROM import_run_edits")
            rows = con.execute(
                "SELECT model, sum(input_tokens), sum(output_tokens), "
                "sum(cache_creation_tokens), sum(cache_read_tokens) FROM import_run_best "
                "WHERE origin <> 'summary' OR session_id NOT IN "
                "(SELECT session_id FROM import_run_best WHERE origin <> 'summary') "
                "GROUP BY model"
            ).fetchall()
        finally:
            for table in ("import_run_usage", "import_run_edits", "import_run_best"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
        models: ModelTotals = {}
        for model, *sums in rows:
            fields = dict(zip(TOKEN_FIELDS, (int(v) for v in sums), strict=True))
            fields["total_tokens"] = sum(fields.values())
            models[str(model)] = fields
        return records, edits, models


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def store_batch(con: duckdb.DuckDBPyConnection, batch: ImportBatch,
                cursors: Sequence[offsets.Cursor]) -> None:
    """Write one batch and the cursors that cover it atomically."""
    with transaction(con):
        if batch.spans:
            drain.write_sessions(con, list(batch.sessions.values()))
        if batch.rows:
            record_writers.write_usage_rows(con, list(batch.rows.values()))
        if batch.edit_rows:
            record_writers.write_edit_rows(con, list(batch.edit_rows.values()))
        offsets.save(con, cursors)


class _Group:
    """Slices of several files waiting for one transaction (a commit costs a WAL flush)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, tool: str) -> None:
        self.con = con
        self.tool = tool
        self.batch = ImportBatch(tool)
        self.cursors: dict[str, offsets.Cursor] = {}
        self.lines = 0
        self.bytes = 0

    def add(self, batch: ImportBatch, cursor: offsets.Cursor, lines: int,
            read: int = 0) -> None:
        self.batch.merge(batch)
        self.cursors[cursor.file_key] = cursor
        self.lines += lines
        self.bytes += read
        if self.lines >= LINES_PER_TRANSACTION or self.bytes >= BYTES_PER_SLICE:
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
        self.bytes = 0


def import_files(con: duckdb.DuckDBPyConnection, ctx: ImportContext, tool: str,
                 files: Iterable[Path], progress: Progress | None = None) -> ImportSummary:
    """Import the new complete lines of every file; returns what this run read."""
    summary = ImportSummary(tool)
    group = _Group(con, tool)
    known = offsets.load_all(con, tool)
    files = list(files)
    try:
        jobs = _parallel_jobs(known, ctx, files)
        if jobs is not None:
            _import_parallel(ctx, tool, jobs, dict(known), summary, group, progress)
        else:
            read_to = dict(known)
            for path in files:
                summary.files += 1
                try:
                    for batch, cursor, lines in read_file(known, ctx, tool, path):
                        summary.absorb(batch, con)
                        group.add(batch, cursor, lines, _read(read_to, cursor))
                except OSError as exc:
                    # A transcript deleted or rotated mid-run is picked up again next time.
                    log.warning("%s transcript unreadable this run: %s", tool, exc.strerror)
                    continue
                if progress is not None:
                    progress(_size(path))
        group.flush()
    finally:
        summary.finish()
    return summary


def _read(read_to: dict[str, offsets.Cursor], cursor: offsets.Cursor) -> int:
    """Bytes a slice covered, roughly (for cutting transactions; never for correctness)."""
    previous = read_to.get(cursor.file_key)
    start = previous.read_to if previous is not None else 0
    read_to[cursor.file_key] = cursor
    return max(0, cursor.read_to - start)


def _import_parallel(ctx: ImportContext, tool: str, jobs: list[tuple[workers.FileJob, int]],
                     read_to: dict[str, offsets.Cursor], summary: ImportSummary, group: _Group,
                     progress: Progress | None) -> None:
    """Children parse while this process stores what they send, in file order."""
    groups = workers.split_jobs(jobs)
    count = min(workers.worker_count(), len(groups))
    for event in workers.parse_parallel(ctx, tool, groups, count):
        if event.slice is not None:
            batch, cursor, lines = event.slice
            summary.absorb(batch, group.con)
            group.add(batch, cursor, lines, _read(read_to, cursor))
        if not event.done:
            continue
        summary.files += 1
        if event.error is not None:
            # The rest of the file waits for the next run (its cursor did not move on).
            log.warning("%s transcript unreadable this run: %s", tool, event.error)
        elif progress is not None:
            progress(_size(event.path))


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
