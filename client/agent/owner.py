"""The one thread that touches the agent's DuckDB connection; every other thread submits jobs.

This is Datasette's single-write-thread model: DuckDB connections are not shared across
threads, and one queue also serialises drains, scans and queries without further locking.
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


class OwnerStoppedError(RuntimeError):
    """A job was submitted after the owner thread stopped."""


class DbOwner:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="db-owner", daemon=True)
        self._stopped = threading.Event()

    def start(self) -> DbOwner:
        self._thread.start()
        return self

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
