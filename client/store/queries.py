"""The read and forget SQL behind `worktally status`, `commits` and `forget`.

Plain functions over a connection, so the agent (through its owner thread) and a CLI
holding the lock run exactly the same code. `me` is composed in `attribution.local_view`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from worktally.client.capture.records import EDIT_SOURCES
from worktally.client.store.transaction import transaction
from worktally.client.wire import periods

Connection = duckdb.DuckDBPyConnection


# Tables `forget` clears, with the column that dates a row.
# Kept on purpose: report_ledger/report_uploads (forgetting spent privacy budget would let it
# be spent again), import_files, watch_state and git_ai_notes (progress markers, so nothing
# is re-imported).
FORGET_TABLES: dict[str, str] = {
    "edit_lines": "ts",
    "edits": "ts",
    "commit_lines": "",
    "survival": "checked_at",
    "commits": "committed_at",
    "file_snapshots": "updated_at",
    "token_usage": "ts",
    "ai_sessions": "ended_at",
    "otlp_counts": "window_end",
    "chat_snippets": "ts",
    "git_ai_lines": "ts",
}

def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _local_midnight(now: float) -> dt.datetime:
    local = dt.datetime.fromtimestamp(now).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def edit_lines_by_source(con: Connection, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Inserted lines per edit source in [start, end); every source is present."""
    rows = con.execute(
        "SELECT source, coalesce(sum(line_count), 0) FROM edits "
        "WHERE ts >= ? AND ts < ? GROUP BY source",
        [start, end],
    ).fetchall()
    counts = dict.fromkeys(EDIT_SOURCES, 0)
    counts.update({str(source): int(n) for source, n in rows})
    return counts


def status(con: Connection, now: float) -> dict[str, Any]:
    """Today's (local day) inserted lines by source, plus the store's size in rows."""
    start = _local_midnight(now)
    counts = edit_lines_by_source(con, start, start + dt.timedelta(days=1))
    row = con.execute("SELECT count(*) FROM edits").fetchone()
    commits_row = con.execute("SELECT count(*) FROM commits").fetchone()
    return {
        **counts,
        "edits_total": int(row[0]) if row else 0,
        "commits_total": int(commits_row[0]) if commits_row else 0,
    }


@dataclass(frozen=True)
class CommitRow:
    """One attributed commit: its lines by class (they add up to `lines_added`)."""

    sha: str
    repo_id: str
    committed_at: dt.datetime
    is_merge: bool
    lines_added: int
    ai_lines: int
    ai_modified_lines: int
    human_lines: int
    bulk_lines: int
    external_lines: int
    unknown_lines: int
    ai_by_tool: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "sha": self.sha, "repo_id": self.repo_id, "lines_added": self.lines_added,
            "ai_lines": self.ai_lines, "ai_modified_lines": self.ai_modified_lines,
            "human_lines": self.human_lines, "bulk_lines": self.bulk_lines,
            "external_lines": self.external_lines, "unknown_lines": self.unknown_lines,
            "ai_by_tool": dict(self.ai_by_tool), "committed_at": _iso(self.committed_at),
            "is_merge": self.is_merge,
        }


def commits(con: Connection, repo_id: str | None = None, since: dt.datetime | None = None,
            limit: int | None = None) -> list[CommitRow]:
    """Attributed commits, newest first (from `since` on; at most `limit`), AI lines by tool."""
    rows = con.execute(
        """
        SELECT c.repo_id, c.sha, c.lines_added, c.ai_lines, c.ai_modified_lines, c.human_lines,
               c.bulk_lines, c.external_lines, c.unknown_lines, c.committed_at, c.is_merge,
               (SELECT list(struct_pack(tool := coalesce(l.tool, 'unknown'), n := l.n))
                  FROM (SELECT tool, count(*) AS n FROM commit_lines
                        WHERE repo_id = c.repo_id AND sha = c.sha AND source = 'ai'
                        GROUP BY tool) AS l) AS by_tool
        FROM commits AS c
        WHERE ($repo::VARCHAR IS NULL OR c.repo_id = $repo)
          AND ($since::TIMESTAMPTZ IS NULL OR c.committed_at >= $since)
        ORDER BY c.committed_at DESC, c.sha
        LIMIT $limit
        """,
        {"repo": repo_id, "since": since, "limit": limit},
    ).fetchall()
    out = []
    for (repo, sha, added, ai, modified, human, bulk, external, unknown, committed_at, is_merge,
         by_tool) in rows:
        out.append(CommitRow(
            sha=str(sha), repo_id=str(repo), committed_at=committed_at, is_merge=bool(is_merge),
            lines_added=int(added), ai_lines=int(ai), ai_modified_lines=int(modified),
            human_lines=int(human), bulk_lines=int(bulk), external_lines=int(external),
            unknown_lines=int(unknown),
            ai_by_tool={item["tool"]: int(item["n"]) for item in by_tool or []},
        ))
    return out


def current_week(now: float) -> str:
    """The ISO week of `now` in local time (the developer's own views use local weeks)."""
    return str(periods.local_week_of(now))


def _existing_tables(con: Connection) -> set[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    return {str(r[0]) for r in rows}


def forget(con: Connection, before: dt.datetime | None) -> dict[str, int]:
    """Delete local rows (all of them, or those dated before `before`); counts per table.

    Forgotten commits are remembered in `skipped_commits` (repo id and sha only) so the
    next sync does not attribute them again from git history.
    """
    present = _existing_tables(con)
    deleted: dict[str, int] = {}
    with transaction(con):
        commit_filter = "" if before is None else "WHERE committed_at < $1"
        params: list[Any] = [] if before is None else [before]
        con.execute(
            f"INSERT INTO skipped_commits SELECT repo_id, sha FROM commits {commit_filter} "
            "ON CONFLICT DO NOTHING",
            params,
        )
        for table, column in FORGET_TABLES.items():
            if table not in present:
                continue
            if before is None:
                where, args = "", []
            elif table == "commit_lines":
                # commit_lines has no date of its own: it goes with its commit.
                where = (
                    "WHERE EXISTS (SELECT 1 FROM commits AS c WHERE c.repo_id = "
                    "commit_lines.repo_id AND c.sha = commit_lines.sha AND c.committed_at < $1)"
                )
                args = [before]
            elif column:
                where, args = f"WHERE {column} < $1", [before]
            else:
                continue
            row = con.execute(f"DELETE FROM {table} {where}", args).fetchone()
            deleted[table] = int(row[0]) if row else 0
    return deleted
