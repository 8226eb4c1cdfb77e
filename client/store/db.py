"""Open the local DuckDB hardened: no extension downloads, no file access from SQL."""

from __future__ import annotations

from pathlib import Path

import duckdb

from worktally.client import paths
from worktally.client.errors import AgentBusyError
from worktally.client.store.migrations import migrate


def connect(path: Path | None = None, memory_limit: str | None = None
            ) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) and migrate the database; the caller must own the lock.

    `memory_limit` caps DuckDB's own memory (its default is most of the machine's): past it,
    DuckDB evicts cached blocks and spills to `<db>.tmp` instead of growing.
    """
    target = path or paths.db_path()
    paths.ensure_private_dir(target.parent)
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(str(target), config=config)
    except duckdb.IOException as exc:
        raise AgentBusyError(
            "the local database is held by another process; use the running agent "
            "(worktally sync asks it) or stop it first"
        ) from exc
    # Set after connect: SQL can then never read or write files outside the database.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    migrate(con)
    for suffix in ("", ".wal"):
        paths.private_file(Path(str(target) + suffix))
    return con
