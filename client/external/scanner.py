"""Record lines that appeared in work-tree files without any editor reporting them.

Each changed file's keyed lines are compared, as a multiset, with its last keyed state (a
`file_snapshots` row, else its HEAD blob, else nothing for an untracked file). Inserted keys
that no editor reported for that file are stored as one `external` edit. Git itself is not
an author: a file equal to HEAD, or any change after a checkout, reset, rebase, merge, pull,
cherry-pick or stash, only moves the baseline. The first scan of a repo records the
baseline alone, since changes made before worktally watched have no known author.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import EditEvent
from worktally.client.config import Config
from worktally.client.errors import GitError
from worktally.client.repos import gitio
from worktally.client.repos.registry import Repo
from worktally.client.store import drain
from worktally.client.store.transaction import transaction

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
BINARY_PROBE_BYTES = 8192
# Editor edits reach the store after the file is saved (they settle, then spool), so lines
# an editor reported shortly before the baseline was taken still count as the editor's.
EDITOR_SLACK_S = 600
# Files in a scan are read this many at a time.
CHUNK_FILES = 500
# A file whose mtime is this much older than its snapshot is not read again (coarse
# file-system clocks round mtimes).
MTIME_SLACK_S = 2.0
# How long a scan waits for git's index.lock to go away before reading files anyway.
INDEX_LOCK_WAIT_S = 2.0
_GIT_OPERATIONS = re.compile(
    rb"\t(checkout|reset|rebase|merge|pull|cherry-pick|revert|am|commit \(merge\))[ :]"
)


@dataclass(frozen=True)
class WatchState:
    head_reflog_bytes: int
    stash_reflog_bytes: int
    scanned_at: float


def inserted_keys(current: Iterable[int], previous: Iterable[int],
                  reported: Iterable[int] = ()) -> list[int]:
    """Keys of `current` beyond those in `previous` and `reported` (multisets), in file order."""
    budget = Counter(previous)
    budget.update(reported)
    out: list[int] = []
    for key in current:
        if budget[key] > 0:
            budget[key] -= 1
        else:
            out.append(key)
    return out


def scan(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config,
         relpaths: set[str] | None = None) -> int:
    """Record external lines in `relpaths` (None: every changed file); returns lines recorded."""
    root = Path(repo.path)
    _wait_for_index_lock(root)
    # One transaction: snapshots never move on without the lines they found being stored.
    with transaction(con):
        recorded = _scan(con, keyer, repo, cfg, root, relpaths)
    if recorded:
        log.info("recorded %d external lines in repo %s", recorded, repo.repo_id)
    return recorded


def _scan(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config, root: Path,
          relpaths: set[str] | None) -> int:
    previous_state = _load_state(con, repo.repo_id)
    state = _reflog_state(root)
    git_moved = previous_state is None or _git_operation_since(root, previous_state, state)
    candidates = set(gitio.status_paths(root)) if relpaths is None else set(relpaths)
    candidates = {p for p in candidates if _inside_tree(p)}
    if git_moved and previous_state is not None:
        # Files the operation changed but the watcher did not name would otherwise be
        # compared with stale snapshots later.
        candidates |= set(gitio.status_paths(root))
        con.execute("DELETE FROM file_snapshots WHERE repo_id = ?", [repo.repo_id])
    found = _scan_files(con, keyer, repo, cfg, root, sorted(candidates), git_moved)
    after = _reflog_state(root)
    if found and _git_operation_since(root, state, after):
        # A checkout finished while the files were read: what looked new was git's doing.
        # The snapshots just taken stand as the new baseline.
        found = []
    _save_state(con, repo.repo_id, after)
    drain.write_edits(con, found)
    return sum(e.line_count for e in found)


def _scan_files(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config, root: Path,
                relpaths: list[str], baseline_only: bool) -> list[EditEvent]:
    if not relpaths:
        return []
    taken = _snapshot_times(con, repo.repo_id)
    todo = [p for p in relpaths
            if not _unchanged_since(root / p, taken.get(keyer.label(p)))]
    has_head = gitio.head_sha(root) is not None
    head_time = _head_time(root) if has_head else None
    found: list[EditEvent] = []
    # In chunks, so a tree full of changed files never sits in memory at once.
    for start in range(0, len(todo), CHUNK_FILES):
        found.extend(_scan_chunk(con, keyer, repo, cfg, root, todo[start:start + CHUNK_FILES],
                                 baseline_only, head_time))
    return found


def _wait_for_index_lock(root: Path) -> None:
    """Give a running git command (checkout, merge) a moment to finish its work tree."""
    try:
        lock = gitio.git_path(root, "index.lock")
    except GitError:
        return
    deadline = time.monotonic() + INDEX_LOCK_WAIT_S
    while lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _scan_chunk(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config, root: Path,
                relpaths: list[str], baseline_only: bool,
                head_time: float | None) -> list[EditEvent]:
    limit = cfg.capture.max_file_bytes
    # Taken before reading: a write racing the read is newer than the snapshot, so seen.
    read_at = time.time()
    contents: dict[str, bytes] = {}
    for relpath in relpaths:
        content = _read_work_file(root, relpath, limit)
        if content is None:
            # Deleted, skipped or unreadable: forget the snapshot so HEAD is the baseline.
            con.execute("DELETE FROM file_snapshots WHERE repo_id = ? AND file_id = ?",
                        [repo.repo_id, keyer.label(relpath)])
        else:
            contents[relpath] = content
    heads = gitio.read_blobs(root, "HEAD", list(contents), limit) if head_time is not None \
        else {}
    found: list[EditEvent] = []
    for relpath, content in contents.items():
        file_id = keyer.label(relpath)
        current = keyer.keys_of_text(content.decode("utf-8", "replace"))
        head_blob = heads.get(relpath)
        head_keys = (keyer.keys_of_text(head_blob.decode("utf-8", "replace"))
                     if head_blob is not None else None)
        if head_keys is not None and sorted(head_keys) == sorted(current):
            con.execute("DELETE FROM file_snapshots WHERE repo_id = ? AND file_id = ?",
                        [repo.repo_id, file_id])
            continue
        if not baseline_only:
            snapshot = _load_snapshot(con, repo.repo_id, file_id)
            if snapshot is not None:
                previous, since = snapshot
            else:
                previous, since = head_keys or [], head_time or 0.0
            reported = _editor_keys(con, repo.repo_id, file_id, since - EDITOR_SLACK_S)
            fresh = inserted_keys(current, previous, reported)
            if fresh:
                found.append(EditEvent(
                    source="external", origin="watcher", keys=tuple(fresh), file_id=file_id,
                    repo_id=repo.repo_id, line_count=len(fresh),
                ))
        _save_snapshot(con, repo.repo_id, file_id, current, read_at)
    return found


def _unchanged_since(path: Path, snapshot_at: float | None) -> bool:
    """True when the file is certainly untouched since its snapshot (mtime well before)."""
    if snapshot_at is None:
        return False
    try:
        return path.lstat().st_mtime < snapshot_at - MTIME_SLACK_S
    except OSError:
        return False


def _snapshot_times(con: Connection, repo_id: str) -> dict[str, float]:
    rows = con.execute(
        "SELECT file_id, epoch(updated_at) FROM file_snapshots WHERE repo_id = ?", [repo_id]
    ).fetchall()
    return {str(r[0]): float(r[1]) for r in rows}


def _inside_tree(relpath: str) -> bool:
    """A work-tree name: relative, no `..`, not inside .git (git's own files are no edit)."""
    parts = Path(relpath).parts
    return bool(parts) and not Path(relpath).is_absolute() and ".." not in parts \
        and ".git" not in parts


def _read_work_file(root: Path, relpath: str, max_bytes: int) -> bytes | None:
    """The file's bytes, or None if it is gone, a symlink, outside the tree, big or binary."""
    path = root / relpath
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        # A symlinked parent directory could lead out of the work tree.
        if not path.resolve().is_relative_to(root.resolve()):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes or b"\x00" in data[:BINARY_PROBE_BYTES]:
        return None
    return data


def _editor_keys(con: Connection, repo_id: str, file_id: str, since: float) -> list[int]:
    rows = con.execute(
        "SELECT line_key FROM edit_lines WHERE repo_id = ? AND file_id = ? "
        "AND source <> 'external' AND ts >= ?",
        [repo_id, file_id, _ts(since)],
    ).fetchall()
    return [int(r[0]) for r in rows]


def _load_snapshot(con: Connection, repo_id: str,
                   file_id: str) -> tuple[list[int], float] | None:
    row = con.execute(
        "SELECT keys, epoch(updated_at) FROM file_snapshots WHERE repo_id = ? AND file_id = ?",
        [repo_id, file_id],
    ).fetchone()
    return None if row is None else ([int(k) for k in row[0]], float(row[1]))


def _save_snapshot(con: Connection, repo_id: str, file_id: str, keys: list[int],
                   taken_at: float) -> None:
    con.execute(
        "INSERT OR REPLACE INTO file_snapshots VALUES (?, ?, ?, ?)",
        [repo_id, file_id, keys, _ts(taken_at)],
    )


def _reflog_state(root: Path) -> WatchState:
    def size(name: str) -> int:
        try:
            return gitio.git_path(root, name).stat().st_size
        except FileNotFoundError:
            return 0

    return WatchState(size("logs/HEAD"), size("logs/refs/stash"), time.time())


def _git_operation_since(root: Path, before: WatchState, now: WatchState) -> bool:
    """Did HEAD's reflog gain a work-tree-changing entry, or the stash list change?"""
    if now.stash_reflog_bytes != before.stash_reflog_bytes:
        return True
    if now.head_reflog_bytes < before.head_reflog_bytes:
        return True  # the reflog was expired or rewritten; be safe
    if now.head_reflog_bytes == before.head_reflog_bytes:
        return False
    with gitio.git_path(root, "logs/HEAD").open("rb") as handle:
        handle.seek(before.head_reflog_bytes)
        added = handle.read(now.head_reflog_bytes - before.head_reflog_bytes)
    return bool(_GIT_OPERATIONS.search(added))


def _head_time(root: Path) -> float:
    return float(gitio.run(root, "log", "-1", "--format=%ct", "HEAD").decode().strip() or 0)


def _load_state(con: Connection, repo_id: str) -> WatchState | None:
    row = con.execute(
        "SELECT head_reflog_bytes, stash_reflog_bytes, epoch(scanned_at) FROM watch_state "
        "WHERE repo_id = ?", [repo_id],
    ).fetchone()
    return None if row is None else WatchState(int(row[0]), int(row[1]), float(row[2]))


def _save_state(con: Connection, repo_id: str, state: WatchState) -> None:
    con.execute(
        "INSERT OR REPLACE INTO watch_state VALUES (?, ?, ?, ?)",
        [repo_id, state.head_reflog_bytes, state.stash_reflog_bytes, _ts(state.scanned_at)],
    )


def _ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)
