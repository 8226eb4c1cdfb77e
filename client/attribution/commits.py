"""Tie committed lines to the edits that wrote them, by line key, so AI lines can be counted.

Only non-trivial lines are counted (the one rule of `line_keys`): a commit's `lines_added`
is the number of its added lines that have a line key, and every such line is exactly one
of `ai`, `ai_modified`, `bulk`, `external`, `human` or `unknown`, so their sum is
`lines_added`. A key takes the best edit recorded at or before the commit time:
ai > ai_modified > bulk > external > typed (human); a key no edit recorded is `unknown`
(history from before worktally watched, another machine, a pause, no editor attached),
never human. Matching is by content in any repo, so a rebase, squash, amend, cherry-pick or
re-indent attributes the same way; commits no longer reachable from a ref are flagged so
reports skip them.
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
# Every class of a committed line, in precedence order; `human` is matched from `typed` edits.
LINE_CLASSES = ("ai", "ai_modified", "bulk", "external", "human", "unknown")
# Edit sources in the order a key's best match is chosen.
EDIT_PRECEDENCE = ("ai", "ai_modified", "bulk", "external", "typed")
DAY_S = 86_400
# Reachability is re-checked this far before the oldest stored commit (clock skew slack).
REACH_SLACK_S = 2 * DAY_S
PER_MILLE = 1000
# A period whose committed lines are more than this share unknown is "mostly unknown": its
# shares say little about the person, so it is marked and not reported (docs/developer.md).
MOSTLY_UNKNOWN_SHARE = 0.5


@dataclass(frozen=True)
class LineMatch:
    source: str
    tool: str | None = None
    kind: str | None = None
    session_id: str | None = None


UNKNOWN = LineMatch("unknown")

_ORDER_CASE = "CASE e.source " + " ".join(
    f"WHEN '{source}' THEN {rank}" for rank, source in enumerate(EDIT_PRECEDENCE)
) + " END"

# One join: the commit's distinct keys against every stored edit line up to the commit
# time; QUALIFY keeps the best source per key, the latest such edit first.
_MATCH_SQL = f"""
SELECT e.line_key, e.source, e.tool, e.kind, e.session_id
FROM edit_lines e
WHERE e.line_key IN (SELECT unnest($keys))
  AND e.ts < $ts
QUALIFY row_number() OVER (PARTITION BY e.line_key ORDER BY {_ORDER_CASE}, e.ts DESC) = 1
"""


def _line_class(source: str) -> str:
    return "human" if source == "typed" else source


def match_keys(con: Connection, keys: Sequence[int], committed_at: float) -> dict[int, LineMatch]:
    """The best match of each key among edits recorded at or before `committed_at`.

    Keys no edit recorded are absent: they are `unknown`. A typed match is `human`; only
    AI and AI-modified lines keep a tool and kind.
    """
    if not keys:
        return {}
    # Git stores whole seconds, so an edit earlier in the commit's own second still counts.
    rows = con.execute(
        _MATCH_SQL, {"keys": sorted(set(keys)), "ts": _ts(committed_at + 1)}
    ).fetchall()
    out: dict[int, LineMatch] = {}
    for k, source, tool, kind, session in rows:
        cls = _line_class(str(source))
        if cls in ("ai", "ai_modified"):
            out[int(k)] = LineMatch(cls, tool, kind, session)
        else:
            out[int(k)] = LineMatch(cls)
    return out


@dataclass(frozen=True)
class LineClasses:
    """Committed lines of a period by class; shares are over observed lines only."""

    ai: int = 0
    ai_modified: int = 0
    human: int = 0
    bulk: int = 0
    external: int = 0
    unknown: int = 0

    @property
    def observed(self) -> int:
        """Lines some edit accounts for: everything but unknown."""
        return self.ai + self.ai_modified + self.human + self.bulk + self.external

    @property
    def total(self) -> int:
        return self.observed + self.unknown

    def share_pm(self, part: int) -> int | None:
        """round(1000 * part / observed); None when nothing was observed (never 0)."""
        whole = self.observed
        if whole <= 0:
            return None
        return (PER_MILLE * part + whole // 2) // whole

    def ai_share_pm(self) -> int | None:
        """AI lines committed as written, per mille of observed lines (None: no denominator)."""
        return self.share_pm(self.ai)

    def mostly_unknown(self, threshold: float = MOSTLY_UNKNOWN_SHARE) -> bool:
        """More than `threshold` of the committed lines are unknown (False with none)."""
        return self.total > 0 and self.unknown > threshold * self.total

    def to_json(self) -> dict[str, int | bool | None]:
        return {
            "ai": self.ai, "ai_modified": self.ai_modified, "human": self.human,
            "bulk": self.bulk, "external": self.external, "unknown": self.unknown,
            "observed": self.observed, "total": self.total,
            "ai_share_pm": self.ai_share_pm(), "mostly_unknown": self.mostly_unknown(),
        }


def line_classes_between(con: Connection, start: dt.datetime, end: dt.datetime,
                         repo_id: str | None = None) -> LineClasses:
    """Lines of reachable commits made in [start, end), by class (one repo or all)."""
    row = con.execute(
        """
        SELECT coalesce(sum(ai_lines), 0), coalesce(sum(ai_modified_lines), 0),
               coalesce(sum(human_lines), 0), coalesce(sum(bulk_lines), 0),
               coalesce(sum(external_lines), 0), coalesce(sum(unknown_lines), 0)
        FROM commits
        WHERE reachable AND committed_at >= $start AND committed_at < $end
          AND ($repo::VARCHAR IS NULL OR repo_id = $repo)
        """,
        {"start": start, "end": end, "repo": repo_id},
    ).fetchone()
    ai, modified, human, bulk, external, unknown = (int(v) for v in row or (0,) * 6)
    return LineClasses(ai=ai, ai_modified=modified, human=human, bulk=bulk, external=external,
                       unknown=unknown)


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
    per_line = [matches.get(k, UNKNOWN) for k in keys]
    counts = {s: sum(1 for m in per_line if m.source == s) for s in LINE_CLASSES}
    with transaction(con):
        con.execute(
            """
            INSERT OR IGNORE INTO commits
                (repo_id, sha, committed_at, is_merge, lines_added, ai_lines, bulk_lines,
                 external_lines, human_lines, reachable, processed_at, ai_modified_lines,
                 unknown_lines)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?, ?)
            """,
            [repo.repo_id, commit.sha, _ts(commit.committed_at), commit.is_merge, len(keys),
             counts["ai"], counts["bulk"], counts["external"], counts["human"],
             _ts(time.time()), counts["ai_modified"], counts["unknown"]],
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
