"""The aggregator's DuckDB, opened by exactly one process and used by one thread at a time.

Every read and write goes through `AggregatorStore.transaction()`, which holds one lock, so the
FastAPI worker threads never share the connection concurrently (the Datasette single-writer shape).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from worktally.aggregator.errors import AggregatorBusy
from worktally.aggregator.migrations import migrate
from worktally.aggregator.settings import ReleasePolicy
from worktally.client import paths


def private_umask() -> None:
    """Make every file this process creates from now on 0600 (folders 0700).

    DuckDB creates its WAL while serving, after the database is open, and later files (a
    new HPKE key, a task file) must be private too; the server and the CLI call this once.
    """
    os.umask(0o077)


class AggregatorStore:
    """The single owner of one aggregator database file."""

    def __init__(self, path: Path) -> None:
        self.root = path.parent  # the data dir: keys and local mode's window keys live here
        paths.ensure_private_dir(path.parent, owned=True)
        config: dict[str, str | bool | int | float | list[str]] = {
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        }
        try:
            self._con = duckdb.connect(str(path), config=config)
        except duckdb.IOException as exc:
            raise AggregatorBusy(
                "the aggregator database is held by another process (is `serve` running?); "
                "stop it, or use the HTTP API instead of this command"
            ) from exc
        # SQL must never reach files beyond the database itself.
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")
        migrate(self._con)
        for suffix in ("", ".wal"):
            paths.private_file(Path(str(path) + suffix))
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the lock for one transaction; any exception rolls everything back."""
        with self._lock:
            self._con.execute("BEGIN")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def policy(self) -> ReleasePolicy:
        with self.transaction() as con:
            rows = dict(con.execute("SELECT key, value FROM settings").fetchall())
        return ReleasePolicy(k_min=int(rows["k_min"]),
                             min_contributors=int(rows["min_contributors"]))

    def checkpoint(self) -> None:
        """Write the WAL into the database file, so rows just deleted (sealed reports once
        aggregated) do not linger in the log."""
        with self._lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        with self._lock:
            self._con.close()
