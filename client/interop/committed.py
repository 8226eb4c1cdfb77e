"""What the database knows about a stored commit's lines, for the formats that describe them.

A committed line's class depends only on its key (attribution matches keys, not positions),
so a commit's lines at their numbers are classed by looking their keys up here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

Connection = duckdb.DuckDBPyConnection


@dataclass(frozen=True)
class LineClass:
    source: str
    tool: str | None = None
    kind: str | None = None
    session_id: str | None = None


@dataclass(frozen=True)
class StoredCommit:
    repo_id: str
    sha: str
    committed_at: dt.datetime
    counts: dict[str, int]


def classes_of(con: Connection, repo_id: str, sha: str) -> dict[int, LineClass]:
    """Each key of a stored commit -> its class (with tool, kind and session for AI lines)."""
    rows = con.execute(
        "SELECT line_key, any_value(source), any_value(tool), any_value(kind), "
        "any_value(session_id) FROM commit_lines WHERE repo_id = ? AND sha = ? GROUP BY 1",
        [repo_id, sha],
    ).fetchall()
    return {int(k): LineClass(str(s), t, kd, sid) for k, s, t, kd, sid in rows}


def stored_commits(con: Connection, repo_id: str, since: dt.datetime | None = None,
                   skip_noted: bool = False, limit: int | None = None) -> list[StoredCommit]:
    """Reachable non-merge commits of a repo with added lines, oldest first (from `since`;
    with `skip_noted`, only those no note was read or written for)."""
    rows = con.execute(
        """
        SELECT sha, committed_at, ai_lines, ai_modified_lines, human_lines, bulk_lines,
               external_lines, unknown_lines
        FROM commits AS c
        WHERE repo_id = $repo AND reachable AND NOT is_merge AND lines_added > 0
          AND ($since::TIMESTAMPTZ IS NULL OR committed_at >= $since)
          AND NOT ($skip AND EXISTS (SELECT 1 FROM git_ai_notes AS n
                                     WHERE n.repo_id = c.repo_id AND n.sha = c.sha))
        ORDER BY committed_at, sha
        LIMIT $limit
        """,
        {"repo": repo_id, "since": since, "skip": skip_noted, "limit": limit},
    ).fetchall()
    names = ("ai", "ai_modified", "human", "bulk", "external", "unknown")
    return [StoredCommit(repo_id, str(sha), at, dict(zip(names, map(int, n), strict=True)))
            for sha, at, *n in rows]


def ai_lines_by_tool(con: Connection, repo_id: str, sha: str) -> dict[str, int]:
    rows = con.execute(
        "SELECT coalesce(tool, 'unknown'), count(*) FROM commit_lines "
        "WHERE repo_id = ? AND sha = ? AND source = 'ai' GROUP BY 1 ORDER BY 1",
        [repo_id, sha],
    ).fetchall()
    return {str(t): int(n) for t, n in rows}


def session_models(con: Connection, sessions: Iterable[str]) -> dict[str, str]:
    """The model of each session: the one that used the most tokens, else the one its edits
    or a git-ai note named."""
    wanted = sorted(set(sessions))
    if not wanted:
        return {}
    rows = con.execute(
        """
        SELECT session_id, model FROM (
            SELECT session_id, arg_max(model, tokens) AS model, 0 AS rank FROM (
                SELECT session_id, model,
                       sum(input_tokens + output_tokens + cache_creation_tokens
                           + cache_read_tokens) AS tokens
                FROM token_usage_effective WHERE session_id IN (SELECT unnest($s))
                GROUP BY 1, 2)
            GROUP BY 1
            UNION ALL
            SELECT session_id, any_value(model), 1 FROM edits
            WHERE model IS NOT NULL AND session_id IN (SELECT unnest($s)) GROUP BY 1
            UNION ALL
            SELECT session_id, any_value(model), 2 FROM git_ai_lines
            WHERE model IS NOT NULL AND session_id IN (SELECT unnest($s)) GROUP BY 1)
        WHERE model IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY rank) = 1
        """,
        {"s": wanted},
    ).fetchall()
    return {str(session): str(model) for session, model in rows}
