"""How each record type is written to DuckDB: columnar inserts and idempotent upserts.

Every writer runs inside the caller's transaction (the drain's, or an importer's), takes a
sequence of records of one type, and is safe to replay: event ids and usage, session and
count ids make a second copy change nothing or only widen what is stored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from worktally.client.capture.records import (
    AISession,
    ChatSnippet,
    EditEvent,
    OtlpCount,
    TokenUsage,
)
from worktally.client.store.batch_reader import EDIT_COLUMNS, EDIT_FIELDS, EditColumns

Connection = duckdb.DuckDBPyConnection
TableWriter = Callable[[Connection, Sequence[Any]], None]


def _insert_columns(con: Connection, table: str, columns: dict[str, list[Any]]) -> None:
    if not columns or not next(iter(columns.values())):
        return
    names = list(columns)
    selects = ", ".join(f"unnest(${i + 1}) AS {n}" for i, n in enumerate(names))
    con.execute(
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {selects}",
        [columns[n] for n in names],
    )


# SQL types of the staged columns, so a constant column can be sent as one typed scalar.
_EDIT_TYPES = {
    "event_id": "VARCHAR", "ts": "DOUBLE", "repo_id": "VARCHAR", "file_id": "VARCHAR",
    "language": "VARCHAR", "source": "VARCHAR", "tool": "VARCHAR", "kind": "VARCHAR",
    "model": "VARCHAR", "session_id": "VARCHAR", "line_count": "INTEGER", "origin": "VARCHAR",
    "keys": "VARCHAR", "supersedes": "VARCHAR",
}
_EDIT_SELECT = ", ".join("to_timestamp(ts)" if n == "ts" else n for n in EDIT_COLUMNS)


def _stage_edits(con: Connection, columns: Sequence[Sequence[Any]]) -> None:
    """Load edit columns (EDIT_FIELDS order, keys comma-joined) into the temp table
    `drain_edits`.

    Converting Python lists is the drain's main cost, so a column holding one value (one
    repo, one language, no model...) is sent as a single scalar, and each row's keys travel
    as one comma-joined string, which converts several times faster than a list of ints.
    """
    selects: list[str] = []
    params: list[Any] = []
    for index, (name, column) in enumerate(zip(EDIT_FIELDS, columns, strict=True), start=1):
        if column.count(column[0]) == len(column):
            params.append(column[0])
            selects.append(f"${index}::{_EDIT_TYPES[name]} AS {name}")
        else:
            params.append(list(column))
            selects.append(f"unnest(${index}) AS {name}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE drain_edits AS SELECT {', '.join(selects)}", params
    )


def joined_keys(keys: Sequence[int]) -> str:
    """An edit's keys as they travel to DuckDB (see _stage_edits)."""
    return ",".join(map(str, keys))


def _store_edit_columns(con: Connection, cols: EditColumns) -> None:
    """Insert edits whose event id is new (first copy wins), with one edit_lines row per key."""
    if not len(cols):
        return
    _store_edit_lists(con, [
        [joined_keys(k) for k in cols.keys] if name == "keys" else getattr(cols, name)
        for name in EDIT_FIELDS
    ])


def write_edit_rows(con: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Store edit rows (EDIT_FIELDS order, keys comma-joined) as write_edits stores records."""
    if rows:
        _store_edit_lists(con, list(zip(*rows, strict=True)))


def _store_edit_lists(con: Connection, columns: Sequence[Sequence[Any]]) -> None:
    _stage_edits(con, columns)
    try:
        con.execute(
            "DELETE FROM drain_edits WHERE event_id IN "
            "(SELECT e.event_id FROM edits AS e SEMI JOIN drain_edits AS d USING (event_id))"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE drain_fresh AS SELECT * FROM drain_edits "
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY rowid) = 1"
        )
        con.execute(f"INSERT INTO edits SELECT {_EDIT_SELECT} FROM drain_fresh")
        con.execute(
            "INSERT INTO edit_lines SELECT event_id, unnest(string_split(keys, ',')::BIGINT[]), "
            "to_timestamp(ts), source, tool, kind, session_id, file_id, repo_id "
            "FROM drain_fresh WHERE keys <> ''"
        )
        if any(s is not None for s in columns[EDIT_FIELDS.index("supersedes")]):
            _apply_supersedes(con)
    finally:
        con.execute("DROP TABLE IF EXISTS drain_edits")
        con.execute("DROP TABLE IF EXISTS drain_fresh")


# A superseding edit (a late signal relabelled lines already counted) takes its lines over
# from the edit it names: that edit loses one row per key it shares (as a multiset) and as
# many counted lines as the new edit counts. Only edits new in this drain apply, so a replay
# changes nothing.
_SUPERSEDE_LINES_SQL = """
DELETE FROM edit_lines WHERE rowid IN (
    SELECT l.rowid
    FROM (
        SELECT rowid, event_id, line_key,
               row_number() OVER (PARTITION BY event_id, line_key ORDER BY rowid) AS nth
        FROM edit_lines
        WHERE event_id IN (SELECT supersedes FROM drain_fresh WHERE supersedes IS NOT NULL)
    ) AS l
    JOIN (
        SELECT supersedes AS event_id, key AS line_key, count(*) AS n
        FROM (SELECT supersedes, unnest(string_split(keys, ',')::BIGINT[]) AS key
              FROM drain_fresh WHERE supersedes IS NOT NULL AND keys <> '')
        GROUP BY ALL
    ) AS w USING (event_id, line_key)
    WHERE l.nth <= w.n
)
"""
_SUPERSEDE_COUNT_SQL = """
UPDATE edits SET line_count = greatest(edits.line_count - m.n, 0)
FROM (SELECT supersedes, sum(line_count) AS n FROM drain_fresh
      WHERE supersedes IS NOT NULL GROUP BY supersedes) AS m
WHERE edits.event_id = m.supersedes
"""


def _apply_supersedes(con: Connection) -> None:
    con.execute(_SUPERSEDE_LINES_SQL)
    con.execute(_SUPERSEDE_COUNT_SQL)


def write_edits(con: Connection, records: Sequence[EditEvent]) -> None:
    """Store edit events idempotently on event id (runs in the caller's transaction, if any)."""
    cols = EditColumns()
    for r in records:
        cols.add_record(r)
    _store_edit_columns(con, cols)


def write_sessions(con: Connection, records: Sequence[AISession]) -> None:
    """Upsert: a session seen again widens its time span and gains a repo once known.

    One columnar statement; copies of a session within `records` are merged first by the
    same rule, since DuckDB refuses to update one row twice in a statement.
    """
    merged: dict[str, list[Any]] = {}
    for r in records:
        row = merged.get(r.session_id)
        if row is None:
            merged[r.session_id] = [r.session_id, r.tool, r.kind, r.repo_id, r.started_at,
                                    r.ended_at, r.has_cwd]
            continue
        row[3] = row[3] if row[3] is not None else r.repo_id
        row[4] = min(row[4], r.started_at)
        row[5] = max(row[5], r.ended_at)
        row[6] = row[6] or r.has_cwd
    if not merged:
        return
    rows = list(merged.values())
    con.execute(
        """
        INSERT INTO ai_sessions
        SELECT unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6),
               unnest($7)
        ON CONFLICT (session_id) DO UPDATE SET
            started_at = least(ai_sessions.started_at, excluded.started_at),
            ended_at = greatest(ai_sessions.ended_at, excluded.ended_at),
            repo_id = coalesce(ai_sessions.repo_id, excluded.repo_id),
            has_cwd = ai_sessions.has_cwd OR excluded.has_cwd
        """,
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
         [r[3] for r in rows], [_ts(r[4]) for r in rows], [_ts(r[5]) for r in rows],
         [r[6] for r in rows]],
    )


def write_token_usage(con: Connection, records: Sequence[TokenUsage]) -> None:
    """Upsert per usage_id: a main-thread copy beats a sidechain one, then the largest wins."""
    write_usage_rows(con, [
        (r.usage_id, r.session_id, r.tool, r.model, r.ts, r.input_tokens, r.output_tokens,
         r.cache_creation_tokens, r.cache_read_tokens, r.is_sidechain, r.origin)
        for r in records
    ])


# token_usage's columns, in order; a UsageRow (importers/batch.py) holds them so, ts as epoch.
USAGE_COLUMNS = (
    "usage_id", "session_id", "tool", "model", "ts", "input_tokens", "output_tokens",
    "cache_creation_tokens", "cache_read_tokens", "is_sidechain", "origin",
)
_USAGE_TYPES = (
    "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "BIGINT", "BIGINT",
    "BIGINT", "BOOLEAN", "VARCHAR",
)
# One upsert through the primary key's index: its cost follows the rows written, not the
# table (an UPDATE ... FROM plus an anti-join would scan the whole table every time).
_USAGE_UPSERT = """
    INSERT INTO token_usage SELECT usage_id, session_id, tool, model,
        to_timestamp(0) + to_microseconds(ts), input_tokens, output_tokens,
        cache_creation_tokens, cache_read_tokens, is_sidechain, origin
    FROM drain_usage
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
"""
# What datetime accepts (years 1 to 9999), as epoch seconds.
_TS_MIN, _TS_MAX = -62135596800.0, 253402300799.0


def write_usage_rows(con: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert token usage rows (USAGE_COLUMNS order) under write_token_usage's rule.

    One columnar statement through a staging table, which DuckDB loads several times faster
    than it evaluates the upsert over unnested parameters; a column holding one value (the
    tool, often the model and session) travels as one scalar. DuckDB refuses to update one
    row twice in a statement, so copies within `rows` are first reduced by the same rule.
    """
    best: dict[str, tuple[Any, ...]] = {}
    for r in rows:
        old = best.get(r[0])
        if old is None or _row_beats(r, old):
            best[r[0]] = r
    if not best:
        return
    columns = list(zip(*best.values(), strict=True))
    stamps = columns[4]
    try:
        in_range = all(_TS_MIN <= t <= _TS_MAX for t in stamps)  # NaN is not
    except TypeError as exc:
        raise TypeError("token usage not storable: a timestamp is not a number") from exc
    if not in_range:
        # What the datetime conversion this replaced raised; callers roll back on it.
        raise OverflowError("token usage not storable: a timestamp is out of range")
    # Whole microseconds as datetime.fromtimestamp rounds them (half to even), which the
    # rows stored through datetime objects had.
    columns[4] = tuple(int(whole) * 1_000_000 + round(fraction * 1e6)
                       for fraction, whole in map(math.modf, stamps))
    selects: list[str] = []
    params: list[Any] = []
    for index, (name, sql_type, column) in enumerate(
        zip(USAGE_COLUMNS, _USAGE_TYPES, columns, strict=True), start=1
    ):
        if column.count(column[0]) == len(column):
            params.append(column[0])
            selects.append(f"${index}::{sql_type} AS {name}")
        else:
            params.append(list(column))
            selects.append(f"unnest(${index}::{sql_type}[]) AS {name}")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE drain_usage AS SELECT {', '.join(selects)}", params
        )
        con.execute(_USAGE_UPSERT)
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # The caller's rollback drops the staging table with everything else.
        raise ValueError(f"token usage not storable: {exc}") from exc
    con.execute("DROP TABLE drain_usage")


def _row_beats(new: tuple[Any, ...], old: tuple[Any, ...]) -> bool:
    """The upsert's rule in Python: main thread over sidechain, then the larger total."""
    if new[9] != old[9]:
        return bool(old[9])
    return bool(new[5] + new[6] + new[7] + new[8] > old[5] + old[6] + old[7] + old[8])


def write_otlp_counts(con: Connection, records: Sequence[OtlpCount]) -> None:
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


def write_chat_snippets(con: Connection, records: Sequence[ChatSnippet]) -> None:
    """Store one row per keyed line; a snippet whose event id is stored already is skipped."""
    fresh = {r.event_id: r for r in records if r.keys}
    if not fresh:
        return
    known = {
        row[0] for row in con.execute(
            "SELECT DISTINCT event_id FROM chat_snippets WHERE event_id IN (SELECT unnest($1))",
            [list(fresh)],
        ).fetchall()
    }
    rows = [r for event_id, r in fresh.items() if event_id not in known]
    if not rows:
        return
    con.execute(
        """
        INSERT INTO chat_snippets
        SELECT event_id, session_id, family, unnest(keys), to_timestamp(ts)
        FROM (SELECT unnest($1) AS event_id, unnest($2) AS session_id, unnest($3) AS family,
                     unnest($4::BIGINT[][]) AS keys, unnest($5::DOUBLE[]) AS ts)
        """,
        [[r.event_id for r in rows], [r.session_id for r in rows], [r.family for r in rows],
         [list(r.keys) for r in rows], [r.ts for r in rows]],
    )


WRITERS: dict[str, TableWriter] = {
    EditEvent.record_type: write_edits,
    AISession.record_type: write_sessions,
    TokenUsage.record_type: write_token_usage,
    OtlpCount.record_type: write_otlp_counts,
    ChatSnippet.record_type: write_chat_snippets,
}


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)
