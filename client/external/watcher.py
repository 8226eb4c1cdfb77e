"""Watch registered work trees and report, debounced, which files changed and when git moved.

watchdog's emitter thread only queues raw events; a worker thread classifies them (git
metadata, ignored, work-tree file), batches them until the tree is quiet for `debounce_s`,
and runs the callbacks, so a slow callback never stalls the emitter.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import (
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from worktally.client.errors import GitError
from worktally.client.external.ignore_rules import IgnoreRules
from worktally.client.repos import gitio
from worktally.client.repos.registry import Repo

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.3
# Under a constant stream of events, callbacks still run at least this often.
MAX_DELAY_S = 3.0
_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent,
           FileClosedEvent, DirMovedEvent]
# Paths inside the git dir whose change means a commit, checkout or ref update.
_GIT_SIGNALS = ("HEAD", "packed-refs", "ORIG_HEAD")
_GIT_SIGNAL_DIRS = ("refs", "logs")

FilesCallback = Callable[[str, set[str]], None]
GitCallback = Callable[[str], None]


@dataclass
class _Tree:
    repo: Repo
    root: Path
    git_dir: Path
    rules: IgnoreRules
    watches: list[ObservedWatch] = field(default_factory=list)


class _Enqueue(FileSystemEventHandler):
    """Runs on watchdog's emitter thread: hand the raw event over and return at once."""

    def __init__(self, repo_id: str, sink: queue.SimpleQueue[tuple[str, str] | None]) -> None:
        self.repo_id = repo_id
        self.sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, event.dest_path):
            if raw:
                self.sink.put((self.repo_id, os.fsdecode(raw)))


class RepoWatcher:
    def __init__(self, repos: list[Repo], on_files: FilesCallback, on_git: GitCallback,
                 debounce_s: float = DEBOUNCE_S) -> None:
        self._on_files = on_files
        self._on_git = on_git
        self._debounce_s = debounce_s
        self._wanted = list(repos)
        self._trees: dict[str, _Tree] = {}
        self._queue: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        observer = Observer()
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._worker = threading.Thread(target=self._run, name="worktally-watcher", daemon=True)
        self._worker.start()
        self.update(self._wanted)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None
        self._trees.clear()

    def update(self, repos: list[Repo]) -> None:
        """Watch exactly `repos` from now on (start or stop watching the difference)."""
        with self._lock:
            self._wanted = list(repos)
            if self._observer is None:
                return
            wanted = {r.repo_id: r for r in repos}
            for repo_id in set(self._trees) - set(wanted):
                tree = self._trees.pop(repo_id)
                for watch in tree.watches:
                    self._observer.unschedule(watch)
            for repo_id, repo in wanted.items():
                if repo_id not in self._trees:
                    added = self._watch(repo)
                    if added is not None:
                        self._trees[repo_id] = added

    def _watch(self, repo: Repo) -> _Tree | None:
        assert self._observer is not None
        root = Path(repo.path)
        try:
            git_dir = Path(gitio.run(root, "rev-parse", "--absolute-git-dir").decode().strip())
        except GitError as exc:
            log.warning("not watching repo %s: %s", repo.repo_id, exc)
            return None
        tree = _Tree(repo, root, git_dir, IgnoreRules(root, git_dir))
        handler = _Enqueue(repo.repo_id, self._queue)
        try:
            tree.watches.append(self._observer.schedule(
                handler, str(root), recursive=True, event_filter=_EVENTS))
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                log.warning("not watching repo %s: %s", repo.repo_id, exc.strerror)
                return None
            log.warning(
                "the inotify watch limit is reached, so edits on disk in repo %s are not "
                "seen until the next full scan; raise it with "
                "`sysctl fs.inotify.max_user_watches=524288`", repo.repo_id)
        if not tree.watches or not git_dir.is_relative_to(root):
            # Commits must still be noticed: watch the git dir's few signalling places.
            for place in (git_dir, git_dir / "logs"):
                if place.is_dir():
                    try:
                        tree.watches.append(self._observer.schedule(
                            handler, str(place), recursive=False, event_filter=_EVENTS))
                    except OSError as exc:
                        log.warning("cannot watch the git metadata of repo %s: %s",
                                    repo.repo_id, exc.strerror)
        return tree

    def _run(self) -> None:
        files: dict[str, set[str]] = {}
        git: set[str] = set()
        first_at = 0.0
        while True:
            item: tuple[str, str] | bool | None
            try:
                item = self._queue.get(timeout=self._debounce_s)
            except queue.Empty:
                item = False  # quiet for a whole debounce period
            if item is None:
                return
            if isinstance(item, tuple):
                if not files and not git:
                    first_at = time.monotonic()
                self._classify(item[0], item[1], files, git)
                overdue = time.monotonic() - first_at > MAX_DELAY_S
                if not overdue:
                    continue
            if files or git:
                self._deliver(files, git)
                files, git = {}, set()

    def _classify(self, repo_id: str, path: str, files: dict[str, set[str]],
                  git: set[str]) -> None:
        with self._lock:
            tree = self._trees.get(repo_id)
        if tree is None:
            return
        target = Path(path)
        if target.is_relative_to(tree.git_dir):
            inner = target.relative_to(tree.git_dir).parts
            if inner and (inner[0] in _GIT_SIGNAL_DIRS or inner[0] in _GIT_SIGNALS):
                git.add(repo_id)
            if inner[:2] == ("info", "exclude"):
                tree.rules.forget("info/exclude")
            return
        if not target.is_relative_to(tree.root):
            return
        relpath = target.relative_to(tree.root).as_posix()
        tree.rules.forget(relpath)
        if relpath == "." or tree.rules.ignored(relpath) or target.is_dir():
            return
        files.setdefault(repo_id, set()).add(relpath)

    def _deliver(self, files: dict[str, set[str]], git: set[str]) -> None:
        for repo_id, relpaths in files.items():
            self._call(self._on_files, repo_id, relpaths)
        for repo_id in git:
            self._call(self._on_git, repo_id)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception as exc:
            # One failing repo must not stop the watcher for the others. The traceback goes
            # to DEBUG only, because exception text may carry a path.
            log.warning("a watcher callback failed (%s); the change is picked up by the "
                        "next scan", type(exc).__name__)
            log.debug("watcher callback failure", exc_info=True)
