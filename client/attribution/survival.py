"""Count how many AI-attributed committed lines are still at HEAD some days after the commit.

A commit is checked once, when it is at least `attribution.survival_days` old: its AI line
keys are compared, as a multiset, with the keys of the files it touched as they are at HEAD
now. A file renamed since counts as gone (its lines are not looked for elsewhere).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.config import Config
from worktally.client.errors import GitError
from worktally.client.repos import gitio
from worktally.client.repos.registry import Repo

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
DAY_S = 86_400


def update_survival(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config,
                    now: float) -> int:
    """Write a `survival` row for each due, live commit of `repo`; returns rows written."""
    days = cfg.attribution.survival_days
    due = con.execute(
        """
        SELECT c.sha, c.ai_lines FROM commits c
        WHERE c.repo_id = $repo AND c.reachable AND NOT c.is_merge
          AND c.committed_at <= $cutoff
          AND NOT EXISTS (SELECT 1 FROM survival s WHERE s.repo_id = c.repo_id AND s.sha = c.sha)
        ORDER BY c.committed_at
        """,
        {"repo": repo.repo_id, "cutoff": _ts(now - days * DAY_S)},
    ).fetchall()
    if not due:
        return 0
    root = Path(repo.path)
    try:
        parents = _first_parents(root, [str(sha) for sha, ai in due if ai])
    except GitError as exc:
        log.warning("survival could not be checked yet: %s", exc)
        return 0
    written = 0
    for sha, ai_lines in due:
        surviving = 0
        if ai_lines:
            committed = Counter(
                int(r[0]) for r in con.execute(
                    "SELECT line_key FROM commit_lines WHERE repo_id = ? AND sha = ? "
                    "AND source = 'ai'", [repo.repo_id, sha]).fetchall()
            )
            try:
                at_head = _head_keys(root, keyer, sha, parents[sha], cfg.capture.max_file_bytes)
            except GitError as exc:
                # Checked again on the next pass (a gc'd or unreadable commit stays pending).
                log.warning("survival of a commit could not be checked yet: %s", exc)
                continue
            surviving = surviving_count(committed, at_head)
        con.execute(
            "INSERT OR IGNORE INTO survival VALUES (?, ?, ?, ?, ?, ?)",
            [repo.repo_id, sha, _ts(now), days, int(ai_lines), surviving],
        )
        written += 1
    return written


def surviving_count(committed: Counter[int], at_head: Counter[int]) -> int:
    """How many committed keys are still present, each present key counted at most as often
    as it occurs at HEAD."""
    return sum(min(n, at_head[k]) for k, n in committed.items())


def _head_keys(root: Path, keyer: LineKeyer, sha: str, parent: str | None,
               max_bytes: int) -> Counter[int]:
    files = gitio.changed_files(root, sha, parent)
    keys: Counter[int] = Counter()
    for blob in gitio.read_blobs(root, "HEAD", files, max_bytes).values():
        if blob is not None and b"\x00" not in blob[:8192]:
            keys.update(keyer.keys_of_text(blob.decode("utf-8", "replace")))
    return keys


def _first_parents(root: Path, shas: list[str]) -> dict[str, str | None]:
    if not shas:
        return {}
    raw = gitio.run(root, "rev-list", "--no-walk=unsorted", "--parents", *shas)
    out: dict[str, str | None] = dict.fromkeys(shas)
    for line in raw.decode().splitlines():
        parts = line.split()
        if parts:
            out[parts[0]] = parts[1] if len(parts) > 1 else None
    return out


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)
