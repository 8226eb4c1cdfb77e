"""One full sync: drain the spool, import AI tools' logs, then per repo scan, attribute, survive.

The agent runs it every minute and on request; `worktally sync` runs it once when no agent
is up. The order matters: every AI line key (editors' edits from the spool, agents' writes
from their transcripts) must be stored before commits are matched against them, or a
commit made before the first sync would miss the lines an agent wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from worktally.client import importers, paths
from worktally.client.attribution import commits, survival
from worktally.client.browser import paste_match
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.spool import Spool
from worktally.client.config import Config
from worktally.client.errors import GitError, WorktallyError
from worktally.client.external import scanner
from worktally.client.interop import notes_sync
from worktally.client.repos.registry import RepoRegistry
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


def is_paused() -> bool:
    return paths.paused_flag().exists()


@dataclass(frozen=True)
class SyncCounts:
    """What one sync did; `to_json` gives the keys of `worktally sync --json`."""

    batches: int
    records: int
    skipped_batches: int
    quarantined: int
    registrations: int
    browser_pastes: int
    repos: int
    external_edits: int
    commits: int
    survival_checked: int
    repo_errors: int
    imported: dict[str, dict[str, int]]
    paused: bool
    git_ai_notes_read: int = 0
    git_ai_notes_written: int = 0

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def run_sync(
    con: duckdb.DuckDBPyConnection,
    keyer: LineKeyer,
    registry: RepoRegistry,
    cfg: Config,
    now: float,
    spool: Spool | None = None,
) -> SyncCounts:
    """Process everything pending, in the order the module docstring gives."""
    spool = spool or Spool()
    drained = drain_spool(con, registry, spool)
    # Producers that died between writing tmp/ and the rename leave files nobody will finish.
    spool.clean_stale_tmp()
    # Before attribution: pastes of code copied from a browser chat become AI lines.
    browser_pastes = paste_match.match_pastes(con)
    paused = is_paused()
    imported = importers.run_all(con, keyer, registry, cfg)
    repos = external_edits = commits_seen = survival_checked = repo_errors = 0
    notes_read = notes_written = 0
    # Commits attributed from here on (stamped with the real time, whatever `now` says).
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    for repo in registry.list():
        repos += 1
        try:
            # While paused nothing new is recorded, but commits are still facts to attribute.
            if not paused:
                external_edits += scanner.scan(con, keyer, repo, cfg)
            commits_seen += commits.attribute_new_commits(con, keyer, repo, cfg)
            # git-ai's notes apply to the commits just attributed (and, in `write` mode,
            # worktally writes notes for those that have none).
            read, written = notes_sync.sync_repo(con, keyer, repo, cfg, started)
            notes_read, notes_written = notes_read + read, notes_written + written
            survival_checked += survival.update_survival(con, keyer, repo, cfg, now)
        except (WorktallyError, OSError) as exc:
            # One broken repo (deleted folder, git failure) must not stop the others.
            repo_errors += 1
            log.warning("repo %s skipped this sync: %s", repo.repo_id, type(exc).__name__)
    counts = SyncCounts(
        batches=drained.batches, records=drained.records,
        skipped_batches=drained.skipped_batches, quarantined=drained.quarantined,
        registrations=len(drained.registrations), browser_pastes=browser_pastes, repos=repos,
        external_edits=external_edits, commits=commits_seen, survival_checked=survival_checked,
        repo_errors=repo_errors, imported=imported, paused=paused,
        git_ai_notes_read=notes_read, git_ai_notes_written=notes_written,
    )
    log.info("sync: %d batches (%d records), %d quarantined, %d repos, %d commits",
             counts.batches, counts.records, counts.quarantined, counts.repos, counts.commits)
    paths.write_private(paths.last_sync_path(),
                        dt.datetime.fromtimestamp(now, dt.UTC).isoformat().encode())
    return counts
