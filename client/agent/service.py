"""`worktally agent`: the long-running owner of the local DuckDB.

It holds the lock, drains the spool within moments of a new batch, runs the full pipeline
every minute and on request, feeds the file watcher's changes to the external-edit scan,
and answers the CLI and the language server on its control socket.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import Future
from types import FrameType
from typing import TYPE_CHECKING, Any

import duckdb

from worktally.client import config
from worktally.client.agent import pipeline
from worktally.client.agent.control import ControlServer, ask
from worktally.client.agent.lock import AgentLock
from worktally.client.agent.owner import DbOwner
from worktally.client.agent.requests import RequestContext, handle
from worktally.client.attribution import commits
from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.spool import Spool
from worktally.client.config import Config
from worktally.client.errors import AgentBusyError, WorktallyError
from worktally.client.external import scanner
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

    from worktally.client.external.watcher import RepoWatcher
    from worktally.client.importers.live import TranscriptWatcher
    from worktally.client.otlp.receiver import OtlpReceiver

log = logging.getLogger(__name__)

LOCK_WAIT_S = 10.0
# The spool watcher wakes the drain at once; this is the fallback when it misses an event.
SPOOL_FALLBACK_S = 2.0
SYNC_INTERVAL_S = 60.0


class Agent:
    def __init__(
        self,
        cfg: Config | None = None,
        sync_interval_s: float = SYNC_INTERVAL_S,
        spool_fallback_s: float = SPOOL_FALLBACK_S,
    ) -> None:
        self.cfg = cfg or config.load()
        self.sync_interval_s = sync_interval_s
        self.spool_fallback_s = spool_fallback_s
        self.keyer = default_keyer()
        self.registry = RepoRegistry(self.keyer)
        self.spool = Spool()
        self.lock = AgentLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sync_due = threading.Event()
        self._started = time.time()
        self._last_sync: float | None = None
        self._owner: DbOwner | None = None
        self._watcher: RepoWatcher | None = None
        self._transcripts: TranscriptWatcher | None = None
        self._otlp: OtlpReceiver | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> None:
        """Run until SIGTERM/SIGINT or `stop()`; raises AgentBusyError if one already runs."""
        # Handlers first: a SIGTERM during start-up must still lead to the clean shutdown below.
        self._install_signal_handlers()
        # Everything the agent creates (DuckDB's WAL and temp files included) is owner-only.
        os.umask(0o077)
        self._take_lock()
        con: duckdb.DuckDBPyConnection | None = None
        control: ControlServer | None = None
        observer: BaseObserver | None = None
        scheduler: threading.Thread | None = None
        try:
            con = db.connect()
            self._owner = DbOwner(con).start()
            ctx = RequestContext(
                keyer=self.keyer,
                registry=self.registry,
                cfg=self.cfg,
                run_db=self._owner.submit,
                run_read=self._owner.read,
                agent=True,
                on_repos_changed=self._repos_registered,
                extra_status=self._extra_status,
            )
            observer = self._watch_spool()
            self._start_repo_watcher()
            self._start_transcript_watcher()
            self._start_otlp_receiver()
            scheduler = threading.Thread(target=self._schedule, name="scheduler", daemon=True)
            scheduler.start()
            # Last: once the socket answers, every part of the agent is up.
            control = ControlServer(lambda request: self._handle(ctx, request)).start()
            log.info("agent running (pid %d)", os.getpid())
            while not self._stop.wait(0.5):
                pass
        finally:
            log.info("agent stopping")
            self._stop.set()
            self._wake.set()
            if scheduler is not None:
                scheduler.join(timeout=60)
            if self._otlp is not None:
                self._otlp.stop()
            if self._watcher is not None:
                self._watcher.stop()
            if self._transcripts is not None:
                self._transcripts.stop()
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            if control is not None:
                control.close()
            if self._owner is not None:
                self._owner.stop()
            if con is not None:
                con.close()
            self.lock.release()
            log.info("agent stopped")

    def _handle(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        result = handle(ctx, request)
        if request.get("cmd") == "sync":
            self._last_sync = time.time()
        return result

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _take_lock(self) -> None:
        if ask({"cmd": "status"}, timeout=2.0) is not None:
            raise AgentBusyError("an agent is already running; `worktally status` shows it")
        # A CLI command may hold the lock for a moment: wait for it rather than fail.
        deadline = time.monotonic() + LOCK_WAIT_S
        while not self.lock.try_acquire():
            if time.monotonic() >= deadline:
                self.lock.acquire()  # raises AgentBusyError naming the holder
            time.sleep(0.05)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received signal %d", signum)
            self.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # -- scheduling ------------------------------------------------------------------------

    def _schedule(self) -> None:
        """Drain on every wake-up (new batch or fallback), run the full pipeline when due."""
        next_sync = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if self._sync_due.is_set() or now >= next_sync:
                self._sync_due.clear()
                self._run_job("sync", self._full_sync)
                next_sync = time.monotonic() + self.sync_interval_s
            else:
                self._run_job("drain", self._drain)
            timeout = min(self.spool_fallback_s, max(0.0, next_sync - time.monotonic()))
            self._wake.wait(timeout)
            self._wake.clear()

    def _run_job(self, name: str, fn: Any) -> None:
        assert self._owner is not None
        try:
            self._owner.submit(fn)
        except Exception as exc:
            # A failing step (a bug in one importer, a full disk) must not end the scheduler:
            # the next round retries. The traceback may name files, so it stays at DEBUG.
            log.error("%s failed: %s", name, type(exc).__name__)
            log.debug("%s failure", name, exc_info=True)

    def _drain(self, con: duckdb.DuckDBPyConnection) -> None:
        result = pipeline.drain_spool(con, self.registry, self.spool)
        # Editors flush every few hundred ms while you type: per-drain lines stay at DEBUG.
        if result.batches:
            log.debug("drained %d batches (%d records)", result.batches, result.records)
        if result.quarantined:
            log.warning("quarantined %d unreadable spool batches", result.quarantined)
        if result.registrations:
            self._repos_changed()

    def _full_sync(self, con: duckdb.DuckDBPyConnection) -> None:
        counts = pipeline.run_sync(con, self.keyer, self.registry, self.cfg, time.time(),
                                   self.spool)
        self._last_sync = time.time()
        if counts.registrations:
            self._repos_changed()

    def _extra_status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self._started, 1),
            "last_sync": self._last_sync,
            "spool_pending": len(self.spool.pending()),
            "watcher": self._watcher is not None,
            "transcript_folders": self._transcripts.watching if self._transcripts else 0,
            "otlp_port": self._otlp.port if self._otlp is not None else None,
        }

    # -- watchers --------------------------------------------------------------------------

    def _watch_spool(self) -> BaseObserver:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        wake = self._wake

        class SpoolEvents(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                wake.set()

        observer = Observer()
        observer.schedule(SpoolEvents(), str(self.spool.new), recursive=False)
        observer.daemon = True
        observer.start()
        return observer

    def _start_repo_watcher(self) -> None:
        try:
            from worktally.client.external.watcher import RepoWatcher
        except ImportError:
            log.warning("the file watcher is not available; external edits are found on sync")
            return
        self._watcher = RepoWatcher(self.registry.list(), self._on_files, self._on_git)
        self._watcher.start()

    def _start_transcript_watcher(self) -> None:
        """Import AI tools' transcripts as they are written, not only on the periodic sync."""
        from worktally.client import importers
        from worktally.client.importers.live import TranscriptWatcher

        def import_new() -> None:
            self._post("transcript import", lambda con: importers.run_all(
                con, self.keyer, self.registry, self.cfg))

        watcher = TranscriptWatcher(importers.watch_roots(self.cfg), import_new).start()
        log.info("watching %d transcript folders", watcher.watching)
        self._transcripts = watcher

    def _start_otlp_receiver(self) -> None:
        """Serve OTLP on loopback when enabled; a busy port costs the receiver, not the agent."""
        if not self.cfg.otlp.enabled:
            return
        from worktally.client.otlp.receiver import OtlpReceiver

        try:
            receiver = OtlpReceiver.from_config(self.cfg.otlp, self.spool, self.keyer,
                                                self.registry)
            receiver.start()
        except WorktallyError as exc:
            log.warning("OTLP receiver not started: %s", exc)
            return
        self._otlp = receiver

    def _repos_registered(self) -> None:
        """A repo was added or removed by request: watch it and attribute its history soon."""
        self._repos_changed()
        self._sync_due.set()
        self._wake.set()

    def _repos_changed(self) -> None:
        if self._watcher is not None:
            self._watcher.update(self.registry.list())

    def _on_files(self, repo_id: str, relpaths: set[str]) -> None:
        repo = self.registry.get(repo_id)
        if repo is None or pipeline.is_paused() or self._owner is None:
            return

        def scan(con: duckdb.DuckDBPyConnection) -> Any:
            # Editor edits of these files may still be in the spool: store them first, so
            # the scan does not mistake them for changes no editor saw.
            pipeline.drain_spool(con, self.registry, self.spool)
            return scanner.scan(con, self.keyer, repo, self.cfg, relpaths)

        self._post("external scan", scan)

    def _on_git(self, repo_id: str) -> None:
        repo = self.registry.get(repo_id)
        if repo is None or self._owner is None:
            return

        def attribute(con: duckdb.DuckDBPyConnection) -> Any:
            pipeline.drain_spool(con, self.registry, self.spool)
            return commits.attribute_new_commits(con, self.keyer, repo, self.cfg)

        self._post("attribution", attribute)

    def _post(self, name: str, fn: Any) -> None:
        assert self._owner is not None
        future = self._owner.post(fn)

        def report(done: Future[Any]) -> None:
            exc = done.exception()
            if exc is not None:
                log.error("%s failed: %s", name, type(exc).__name__)

        future.add_done_callback(report)
