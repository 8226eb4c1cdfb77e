"""Live import: watch the AI tools' log folders and ask for an import when they change.

Claude Code deletes transcripts after 30 days, and a session's lines are only final when
written, so the agent imports as they appear instead of waiting for its periodic sync. The
watcher only signals; the import itself runs on the agent's database thread, and it is
incremental (offsets per file), so a burst of writes costs one cheap pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)

# Agents append a line per message; one import per quiet second is plenty.
DEBOUNCE_S = 1.0
# What the tools write: JSONL logs, JSON sessions and threads, opencode's SQLite database
# (whose write-ahead log changes first) and Aider's Markdown history.
LOG_SUFFIXES = (".jsonl", ".json", ".db", ".db-wal", ".md")


class _Changes(FileSystemEventHandler):
    def __init__(self, changed: threading.Event) -> None:
        self._changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = str(event.src_path)
        if not event.is_directory and path.endswith(LOG_SUFFIXES):
            self._changed.set()


class TranscriptWatcher:
    """Calls `on_change()` at most once per `debounce_s` while transcripts are being written."""

    def __init__(self, roots: list[Path], on_change: Callable[[], None],
                 debounce_s: float = DEBOUNCE_S) -> None:
        self._roots = [r for r in roots if r.is_dir()]
        self._on_change = on_change
        self._debounce_s = debounce_s
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    @property
    def watching(self) -> int:
        return len(self._roots)

    def start(self) -> TranscriptWatcher:
        observer = Observer()
        observer.daemon = True
        for root in self._roots:
            try:
                observer.schedule(_Changes(self._changed), str(root), recursive=True)
            except OSError as exc:
                # An inotify limit costs live import of this folder, not the agent: the
                # periodic sync still imports it.
                log.warning("cannot watch a transcript folder (%s); it is imported on sync",
                            exc.strerror)
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name="transcripts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._changed.wait()
            if self._stop.is_set():
                return
            # Let the burst finish, then import once.
            while self._changed.is_set() and not self._stop.is_set():
                self._changed.clear()
                self._stop.wait(self._debounce_s)
            if not self._stop.is_set():
                self._on_change()
