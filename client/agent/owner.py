"""The one thread that writes the agent's DuckDB; every other thread submits jobs to it.

This is Datasette's model: a single write thread fed by a queue serialises drains, scans
and attribution without further locking, while short reads (status, commits, me) run on a
small pool of read cursors so that an editor's status request never waits behind a long
import. DuckDB's MVCC lets a cursor read the last committed state while a write runs.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import duckdb

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[duckdb.DuckDBPyConnection], Any]

# Sentinel that tells the thread to finish the jobs before it and exit.
_STOP = object()
READ_CURSORS = 2


class OwnerStoppedError(RuntimeError):
    """A job was submitted after the owner thread stopped."""


class DbOwner:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="db-owner", daemon=True)
        self._stopped = threading.Event()
        self._readers: queue.Queue[duckdb.DuckDBPyConnection] = queue.Queue()

    def start(self) -> DbOwner:
        self._thread.start()
        for _ in range(READ_CURSORS):
            # Cursors are made on the owner thread, the only one that touches `con`.
            self._readers.put(self.submit(lambda con: con.cursor()))
        return self

    def read(
        self, fn: Callable[[duckdb.DuckDBPyConnection], T], timeout: float | None = None
    ) -> T:
        """Run a read-only `fn(cursor)` in the calling thread on a pooled read cursor."""
        if self._stopped.is_set():
            raise OwnerStoppedError("the database owner has stopped")
        cursor = self._readers.get(timeout=timeout)
        try:
            return fn(cursor)
        finally:
            self._readers.put(cursor)

    def post(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        """Queue `fn(con)` and return at once with a future of its result."""
        if self._stopped.is_set():
            raise OwnerStoppedError("the database owner has stopped")
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future

    def submit(
        self, fn: Callable[[duckdb.DuckDBPyConnection], T], timeout: float | None = None
    ) -> T:
        """Run `fn(con)` on the owner thread and wait for its result (or its exception)."""
        if threading.current_thread() is self._thread:
            # A job that submits another job would wait on itself forever.
            return fn(self._con)
        return self.post(fn).result(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish queued jobs, then end the thread."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._jobs.put(_STOP)
        self._thread.join(timeout=timeout)
        while not self._readers.empty():
            self._readers.get_nowait().close()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(self._con)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)
            else:
                future.set_result(result)
