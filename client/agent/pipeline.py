"""One full sync: drain the spool, import AI tools' logs, then per repo scan, attribute, survive.

The agent runs it every minute and on request; `worktally sync` runs it once when no agent
is up. The order matters: every AI line key (editors' edits from the spool, agents' writes
from their transcripts) must be stored before commits are matched against them, or a
commit made before the first sync would miss the lines an agent wrote.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import duckdb

from worktally.client import (
    attribution,
    browser_match,
    external,
    importers,
    paths,
    survival,
)
from worktally.client.config import Config
from worktally.client.errors import GitError, WorktallyError
from worktally.client.line_keys import LineKeyer
from worktally.client.repos import RepoRegistry
from worktally.client.spool import Spool
from worktally.client.store.drain import DrainResult, drain

log = logging.getLogger(__name__)



def register_from_spool(registry: RepoRegistry, path: str) -> None:
    """Register a repo a producer asked for; a folder that is not a work tree is skipped."""
    try:
        repo = registry.add(Path(path))
    except GitError:
        # The path itself must not reach the log; the keyed id is enough to correlate.
        log.warning("skipped a repo registration that is not a git work tree (%s)",
                    registry.keyer.label(path))
        return
    log.info("registered repo %s", repo.repo_id)


def drain_spool(
    con: duckdb.DuckDBPyConnection, registry: RepoRegistry, spool: Spool | None = None
) -> DrainResult:
    return drain(con, spool or Spool(), on_registration=lambda p: register_from_spool(registry, p))


def _count(value: Any) -> int:
    """A step's result as a number (steps return a count, or a collection of what they did)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return value
    return len(value) if hasattr(value, "__len__") else 0


def is_paused() -> bool:
    return paths.paused_flag().exists()


def run_sync(
    con: duckdb.DuckDBPyConnection,
    keyer: LineKeyer,
    registry: RepoRegistry,
    cfg: Config,
    now: float,
    spool: Spool | None = None,
) -> dict[str, Any]:
    """Process everything pending; returns counts (the keys of `worktally sync --json`)."""
    spool = spool or Spool()
    drained = drain_spool(con, registry, spool)
    # Producers that died between writing tmp/ and the rename leave files nobody will finish.
    spool.clean_stale_tmp()
    # Before attribution: pastes of code copied from a browser chat become AI lines.
    browser_pastes = browser_match.match_pastes(con)
    paused = is_paused()
    counts: dict[str, Any] = {
        "batches": drained.batches,
        "records": drained.records,
        "skipped_batches": drained.skipped_batches,
        "quarantined": drained.quarantined,
        "registrations": len(drained.registrations),
        "browser_pastes": browser_pastes,
        "repos": 0,
        "external_edits": 0,
        "commits": 0,
        "survival_checked": 0,
        "repo_errors": 0,
        "imported": importers.run_all(con, keyer, registry, cfg) or {},
        "paused": paused,
    }
    for repo in registry.list():
        counts["repos"] += 1
        try:
            # While paused nothing new is recorded, but commits are still facts to attribute.
            if not paused:
                counts["external_edits"] += _count(external.scan(con, keyer, repo, cfg))
            counts["commits"] += _count(attribution.attribute_new_commits(con, keyer, repo, cfg))
            counts["survival_checked"] += _count(
                survival.update_survival(con, keyer, repo, cfg, now)
            )
        except (WorktallyError, OSError) as exc:
            # One broken repo (deleted folder, git failure) must not stop the others.
            counts["repo_errors"] += 1
            log.warning("repo %s skipped this sync: %s", repo.repo_id, type(exc).__name__)
    log.info(
        "sync: %d batches (%d records), %d quarantined, %d repos, %d commits",
        counts["batches"], counts["records"], counts["quarantined"], counts["repos"],
        counts["commits"],
    )
    return counts
