"""Move spooled batches into DuckDB, one transaction per batch, idempotent on ids.

Inserts are columnar (one statement per table with list parameters, then `unnest`), which
is what makes the drain keep up with bursts from many editors.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from worktally.client import events
from worktally.client.spool import BadBatch, Batch, Spool

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
TableWriter = Callable[[Connection, Sequence[Any]], None]


@dataclass
class DrainResult:
    batches: int = 0
    records: int = 0
    skipped_batches: int = 0
    quarantined: int = 0
    registrations: list[str] = field(default_factory=list)


def _insert_columns(con: Connection, table: str, columns: dict[str, list[Any]]) -> None:
    if not columns or not next(iter(columns.values())):
        return
    names = list(columns)
    selects = ", ".join(f"unnest(${i + 1}) AS {n}" for i, n in enumerate(names))
    con.execute(
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {selects}",
        [columns[n] for n in names],
    )


def write_edits(con: Connection, records: Sequence[events.EditEvent]) -> None:
    ids = [r.event_id for r in records]
    existing = {
        row[0]
        for row in con.execute(
            "SELECT event_id FROM edits WHERE event_id IN (SELECT unnest($1))", [ids]
        ).fetchall()
    }
    fresh: dict[str, events.EditEvent] = {}
    for r in records:
        if r.event_id not in existing:
            fresh.setdefault(r.event_id, r)
    if not fresh:
        return
    rows = list(fresh.values())
    _insert_columns(
        con,
        "edits",
        {
            "event_id": [r.event_id for r in rows],
            "ts": [_ts(r.ts) for r in rows],
            "repo_id": [r.repo_id for r in rows],
            "file_id": [r.file_id for r in rows],
            "language": [r.language for r in rows],
            "source": [r.source for r in rows],
            "tool": [r.tool for r in rows],
            "kind": [r.kind for r in rows],
            "model": [r.model for r in rows],
            "session_id": [r.session_id for r in rows],
            "line_count": [r.line_count for r in rows],
            "origin": [r.origin for r in rows],
        },
    )
    cols: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        for key in r.keys:
            cols["event_id"].append(r.event_id)
            cols["line_key"].append(key)
            cols["ts"].append(_ts(r.ts))
            cols["source"].append(r.source)
            cols["tool"].append(r.tool)
            cols["kind"].append(r.kind)
            cols["session_id"].append(r.session_id)
            cols["file_id"].append(r.file_id)
            cols["repo_id"].append(r.repo_id)
    _insert_columns(con, "edit_lines", dict(cols))


def write_sessions(con: Connection, records: Sequence[events.AISession]) -> None:
    """Upsert: a session seen again widens its time span and gains a repo once known."""
    for r in records:
        con.execute(
            """
            INSERT INTO ai_sessions VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (session_id) DO UPDATE SET
                started_at = least(ai_sessions.started_at, excluded.started_at),
                ended_at = greatest(ai_sessions.ended_at, excluded.ended_at),
                repo_id = coalesce(ai_sessions.repo_id, excluded.repo_id),
                has_cwd = ai_sessions.has_cwd OR excluded.has_cwd
            """,
            [r.session_id, r.tool, r.kind, r.repo_id, _ts(r.started_at), _ts(r.ended_at),
             r.has_cwd],
        )


def write_token_usage(con: Connection, records: Sequence[events.TokenUsage]) -> None:
    """Upsert per usage_id: a main-thread copy beats a sidechain one, then the largest wins."""
    for r in records:
        con.execute(
            """
            INSERT INTO token_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (usage_id) DO UPDATE SET
                session_id = excluded.session_id, model = excluded.model,
                input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                cache_creation_tokens = excluded.cache_creation_tokens,
                cache_read_tokens = excluded.cache_read_tokens,
                is_sidechain = excluded.is_sidechain, ts = excluded.ts, origin = excluded.origin
            WHERE (token_usage.is_sidechain AND NOT excluded.is_sidechain)
               OR (token_usage.is_sidechain = excluded.is_sidechain AND
                   excluded.input_tokens + excluded.output_tokens
                   + excluded.cache_creation_tokens + excluded.cache_read_tokens
                   > token_usage.input_tokens + token_usage.output_tokens
                   + token_usage.cache_creation_tokens + token_usage.cache_read_tokens)
            """,
            [r.usage_id, r.session_id, r.tool, r.model, _ts(r.ts), r.input_tokens,
             r.output_tokens, r.cache_creation_tokens, r.cache_read_tokens, r.is_sidechain,
             r.origin],
        )


def write_otlp_counts(con: Connection, records: Sequence[events.OtlpCount]) -> None:
    """Upsert per count_id keeping the largest value (a cumulative counter only grows)."""
    for r in records:
        con.execute(
            """
            INSERT INTO otlp_counts VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (count_id) DO UPDATE SET
                value = excluded.value, window_end = excluded.window_end
            WHERE excluded.value > otlp_counts.value
            """,
            [r.count_id, r.tool, r.session_id, r.metric, r.value, _ts(r.window_start),
             _ts(r.window_end), r.cumulative],
        )


WRITERS: dict[str, TableWriter] = {
    events.EditEvent.record_type: write_edits,
    events.AISession.record_type: write_sessions,
    events.TokenUsage.record_type: write_token_usage,
    events.OtlpCount.record_type: write_otlp_counts,
}


def register_writer(record_type: str, writer: TableWriter) -> None:
    """Let a later module store its own record type in the same transaction."""
    WRITERS[record_type] = writer


def drain_batch(con: Connection, batch: Batch) -> tuple[bool, list[str]]:
    """Store one batch atomically. Returns (stored, registration paths)."""
    registrations = [
        r.path for r in batch.records if isinstance(r, events.RepoRegistration)
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        seen = con.execute(
            "SELECT 1 FROM drained_batches WHERE batch_id = ?", [batch.batch_id]
        ).fetchone()
        if seen:
            con.execute("ROLLBACK")
            return False, registrations
        by_type: dict[str, list[Any]] = defaultdict(list)
        for record in batch.records:
            by_type[record.record_type].append(record)
        for record_type, items in by_type.items():
            writer = WRITERS.get(record_type)
            if writer is not None:
                writer(con, items)
        con.execute(
            "INSERT INTO drained_batches VALUES (?, now(), ?)",
            [batch.batch_id, len(batch.records)],
        )
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return True, registrations


def drain(
    con: Connection,
    spool: Spool,
    on_registration: Callable[[str], None] | None = None,
    limit: int | None = None,
) -> DrainResult:
    """Drain pending batches in order. Corrupt batches are moved to spool/bad, never lost."""
    result = DrainResult()
    for index, item in enumerate(spool.batches()):
        if limit is not None and index >= limit:
            break
        if isinstance(item, BadBatch):
            log.warning("quarantining a spool batch: %s", item.reason)
            spool.quarantine(item.path)
            result.quarantined += 1
            continue
        stored, registrations = drain_batch(con, item)
        # Registrations are replayed even for an already-stored batch: repos.json is
        # outside the transaction, so a crash may have lost them. They are idempotent.
        for path in registrations:
            if on_registration is not None:
                on_registration(path)
            result.registrations.append(path)
        spool.done(item)
        if stored:
            result.batches += 1
            result.records += len(item.records)
        else:
            result.skipped_batches += 1
    return result


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)
