"""Tie committed lines to the edits that wrote them, by line key, so AI lines can be counted.

Only non-trivial lines are counted: a commit's `lines_added` is the number of its added
lines that have a line key (trivial lines such as `}` or `else:` are left out of every
count), and `ai_lines + bulk_lines + external_lines + human_lines == lines_added`. A line
is `ai` if an `ai` edit recorded at or before the commit time has its key (the latest such
edit gives tool, kind and session), else `bulk`, else `external`, else `human`. Matching is
by content in any repo, so a rebase, squash, amend, cherry-pick or re-indent attributes the
same way; commits no longer reachable from a ref are flagged so reports skip them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.config import Config
from worktally.client.repos import gitio
from worktally.client.repos.registry import Repo
from worktally.client.store.transaction import transaction

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
SOURCE_ORDER = ("ai", "bulk", "external")
DAY_S = 86_400
# Reachability is re-checked this far before the oldest stored commit (clock skew slack).
REACH_SLACK_S = 2 * DAY_S


@dataclass(frozen=True)
class LineMatch:
    source: str
    tool: str | None = None
    kind: str | None = None
    session_id: str | None = None


HUMAN = LineMatch("human")

# One join: the commit's distinct keys against every stored edit line up to the commit
# time; QUALIFY keeps the best source per key (ai > bulk > external), latest edit first.
_MATCH_SQL = """
SELECT e.line_key, e.source, e.tool, e.kind, e.session_id
FROM edit_lines e
WHERE e.line_key IN (SELECT unnest($keys))
  AND e.ts < $ts
  AND e.source IN ('ai', 'bulk', 'external')
QUALIFY row_number() OVER (
    PARTITION BY e.line_key
    ORDER BY CASE e.source WHEN 'ai' THEN 0 WHEN 'bulk' THEN 1 ELSE 2 END, e.ts DESC
) = 1
"""


def match_keys(con: Connection, keys: Sequence[int], committed_at: float) -> dict[int, LineMatch]:
    """The best non-human match of each key among edits recorded at or before `committed_at`."""
    if not keys:
        return {}
    # Git stores whole seconds, so an edit earlier in the commit's own second still counts.
    rows = con.execute(
        _MATCH_SQL, {"keys": sorted(set(keys)), "ts": _ts(committed_at + 1)}
    ).fetchall()
    return {int(k): LineMatch(source, tool, kind, session) for k, source, tool, kind, session
            in rows}


def attribute_new_commits(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config) -> int:
    """Attribute every commit of `repo` not seen before; returns how many were processed."""
    root = Path(repo.path)
    email = gitio.configured_email(root)
    since = repo.added_at - cfg.attribution.history_days * DAY_S
    commits = gitio.list_commits(root, since)
    known = _known_shas(con, repo.repo_id)
    fresh = [c for c in commits if c.sha not in known]
    if fresh and email is None:
        log.warning("a registered repo has no user.email configured; its commits cannot be "
                    "attributed until `git config user.email` is set")
        return 0
    boundary = gitio.shallow_boundary(root) if fresh else set()
    processed = 0
    for commit in fresh:
        if commit.sha in boundary:
            # A shallow clone hides this commit's parents, so its diff is unknowable; it is
            # retried on every pass and attributed once the history is fetched.
            continue
        if email is None or commit.author_email.lower() != email.lower():
            con.execute("INSERT OR IGNORE INTO skipped_commits VALUES (?, ?)",
                        [repo.repo_id, commit.sha])
            continue
        _attribute_one(con, keyer, repo, root, commit)
        processed += 1
    if commits or known:
        mark_reachability(con, repo, root)
    return processed


def _attribute_one(con: Connection, keyer: LineKeyer, repo: Repo, root: Path,
                   commit: gitio.CommitInfo) -> None:
    keys: list[int] = []
    if not commit.is_merge:
        # A merge's lines were counted in the commits it merged; it is recorded with zeros.
        parent = commit.parents[0] if commit.parents else None
        for lines in gitio.added_lines(root, commit.sha, parent).values():
            keys.extend(keyer.keys(lines))
    matches = match_keys(con, keys, commit.committed_at)
    per_line = [matches.get(k, HUMAN) for k in keys]
    counts = {s: sum(1 for m in per_line if m.source == s) for s in (*SOURCE_ORDER, "human")}
    with transaction(con):
        con.execute(
            "INSERT OR IGNORE INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?)",
            [repo.repo_id, commit.sha, _ts(commit.committed_at), commit.is_merge, len(keys),
             counts["ai"], counts["bulk"], counts["external"], counts["human"],
             _ts(time.time())],
        )
        if keys:
            con.execute(
                """
                INSERT INTO commit_lines
                SELECT $repo, $sha, unnest($keys), unnest($sources), unnest($tools),
                       unnest($kinds), unnest($sessions)
                """,
                {"repo": repo.repo_id, "sha": commit.sha, "keys": keys,
                 "sources": [m.source for m in per_line], "tools": [m.tool for m in per_line],
                 "kinds": [m.kind for m in per_line],
                 "sessions": [m.session_id for m in per_line]},
            )


def mark_reachability(con: Connection, repo: Repo, root: Path) -> None:
    """Flag stored commits that no ref reaches any more (rebased, amended, dropped)."""
    row = con.execute("SELECT min(epoch(committed_at)) FROM commits WHERE repo_id = ?",
                      [repo.repo_id]).fetchone()
    if row is None or row[0] is None:
        return
    live = gitio.reachable_shas(root, float(row[0]) - REACH_SLACK_S)
    con.execute(
        """
        UPDATE commits SET reachable = list_contains($live, sha)
        WHERE repo_id = $repo AND reachable <> list_contains($live, sha)
        """,
        {"live": sorted(live), "repo": repo.repo_id},
    )


def ai_lines_by_tool(con: Connection, repo_id: str | None = None) -> dict[str, int]:
    """AI-attributed committed lines per tool, over reachable commits (one repo or all)."""
    rows = con.execute(
        """
        SELECT coalesce(l.tool, 'unknown'), count(*)
        FROM commit_lines l JOIN commits c USING (repo_id, sha)
        WHERE l.source = 'ai' AND c.reachable AND ($repo IS NULL OR c.repo_id = $repo)
        GROUP BY 1 ORDER BY 1
        """,
        {"repo": repo_id},
    ).fetchall()
    return {str(tool): int(n) for tool, n in rows}


def _known_shas(con: Connection, repo_id: str) -> set[str]:
    rows = con.execute(
        "SELECT sha FROM commits WHERE repo_id = $r UNION SELECT sha FROM skipped_commits "
        "WHERE repo_id = $r",
        {"r": repo_id},
    ).fetchall()
    return {str(r[0]) for r in rows}


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)
