"""Move spooled batches into DuckDB, atomically and idempotently on batch and event ids.

A backlog is stored a group of batches per transaction (a commit costs a WAL flush); every
batch id of the group is recorded in that same transaction, so a crash before the commit
replays the whole group and a crash after it skips the group: each event lands once. Edit
rows travel as columns into a temporary staging table, and `edit_lines` is expanded from
it inside DuckDB, which is what makes the drain keep up with bursts from many editors.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from worktally.client.capture.records import EditEvent, RepoRegistration
from worktally.client.capture.spool import Batch, Spool
from worktally.client.errors import SpoolError
from worktally.client.store.batch_reader import EDIT_FIELDS, EditColumns, ParsedBatch, read_batch
from worktally.client.store.record_writers import (
    WRITERS,
    Connection,
    TableWriter,
    _insert_columns,
    _store_edit_columns,
    write_edits,
    write_otlp_counts,
    write_sessions,
    write_token_usage,
)

# The per-record-type writers live in record_writers; they are re-exported here because
# importers, OTLP and browser matching register and call them as `drain.<name>`.
from worktally.client.store.transaction import transaction

__all__ = [
    "GROUP_RECORDS", "UNSTORABLE", "WRITERS", "Connection", "DrainResult", "TableWriter",
    "_insert_columns", "drain", "drain_batch", "store_group",
    "write_edits", "write_otlp_counts", "write_sessions", "write_token_usage",
]

log = logging.getLogger(__name__)

# Errors that mean "this batch's values cannot be stored", as opposed to a broken database
# (IOException, out of memory), which must propagate and be retried later.
UNSTORABLE = (duckdb.DataError, duckdb.IntegrityError, ValueError, TypeError, OverflowError)

# A group is cut at this many records: big enough to amortise the commit, small enough to
# keep one transaction's memory modest.
GROUP_RECORDS = 50_000


@dataclass
class DrainResult:
    batches: int = 0
    records: int = 0
    skipped_batches: int = 0
    quarantined: int = 0
    registrations: list[str] = field(default_factory=list)


def _parsed(batch: Batch) -> ParsedBatch:
    edits = EditColumns()
    others: list[Any] = []
    for record in batch.records:
        if isinstance(record, EditEvent):
            edits.add_record(record)
        else:
            others.append(record)
    registrations = [r.path for r in others if isinstance(r, RepoRegistration)]
    return ParsedBatch(batch.batch_id, batch.path, edits, others, registrations,
                       len(batch.records))


def _write_others(con: Connection, records: list[Any]) -> None:
    by_type: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        by_type[record.record_type].append(record)
    for record_type, items in by_type.items():
        writer = WRITERS.get(record_type)
        if writer is not None:
            writer(con, items)


def store_group(con: Connection, group: Sequence[ParsedBatch]) -> set[str]:
    """Store batches in one transaction, skipping those already drained; returns stored ids."""
    ids = [b.batch_id for b in group]
    # Any failure (a writer's own ValueError too) must leave no half-stored group.
    with transaction(con):
        seen = {
            row[0]
            for row in con.execute(
                "SELECT batch_id FROM drained_batches WHERE batch_id IN (SELECT unnest($1))",
                [ids],
            ).fetchall()
        }
        fresh: dict[str, ParsedBatch] = {}
        for b in group:
            if b.batch_id not in seen:
                fresh.setdefault(b.batch_id, b)
        if not fresh:
            return set()
        edits = EditColumns()
        others: list[Any] = []
        for b in fresh.values():
            for name in EDIT_FIELDS:
                getattr(edits, name).extend(getattr(b.edits, name))
            others.extend(b.others)
        _store_edit_columns(con, edits)
        _write_others(con, others)
        _insert_columns(con, "drained_batches", {
            "batch_id": list(fresh),
            "drained_at": [dt.datetime.now(dt.UTC)] * len(fresh),
            "records": [b.size for b in fresh.values()],
        })
    return set(fresh)


def drain_batch(con: Connection, batch: Batch) -> tuple[bool, list[str]]:
    """Store one batch atomically. Returns (stored, registration paths)."""
    parsed = _parsed(batch)
    stored = store_group(con, [parsed])
    return bool(stored), parsed.registrations


def drain(
    con: Connection,
    spool: Spool,
    on_registration: Callable[[str], None] | None = None,
    limit: int | None = None,
) -> DrainResult:
    """Drain pending batches in order. Corrupt batches are moved to spool/bad, never lost."""
    result = DrainResult()
    group: list[ParsedBatch] = []
    group_records = 0
    pending = spool.pending()
    if limit is not None:
        pending = pending[:limit]
    for path in pending:
        try:
            parsed = read_batch(path)
        except SpoolError as exc:
            log.warning("quarantining a spool batch: %s", exc)
            spool.quarantine(path)
            result.quarantined += 1
            continue
        group.append(parsed)
        group_records += parsed.size
        if group_records >= GROUP_RECORDS:
            _finish_group(con, spool, group, result, on_registration)
            group, group_records = [], 0
    if group:
        _finish_group(con, spool, group, result, on_registration)
    return result


def _finish_group(
    con: Connection,
    spool: Spool,
    group: list[ParsedBatch],
    result: DrainResult,
    on_registration: Callable[[str], None] | None,
) -> None:
    try:
        stored = store_group(con, group)
    except UNSTORABLE as exc:
        if len(group) > 1:
            # Find the culprit: store each batch on its own.
            for b in group:
                _finish_group(con, spool, [b], result, on_registration)
            return
        # Well-formed JSON whose values the database rejects (a NULL in a NOT NULL column,
        # an out-of-range time): retrying forever would block every later batch.
        log.warning("quarantining a spool batch the database rejects: %s", type(exc).__name__)
        spool.quarantine(group[0].path)
        result.quarantined += 1
        return
    for b in group:
        # Registrations are replayed even for an already-stored batch: repos.json is
        # outside the transaction, so a crash may have lost them. They are idempotent.
        for path in b.registrations:
            if on_registration is not None:
                on_registration(path)
            result.registrations.append(path)
        b.path.unlink(missing_ok=True)
        if b.batch_id in stored:
            stored.discard(b.batch_id)
            result.batches += 1
            result.records += b.size
        else:
            result.skipped_batches += 1

