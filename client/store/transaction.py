"""The one way to write to the local DuckDB: a transaction that rolls back on any exception.

Every multi-statement write goes through `transaction(con)`, so a failure of any kind (a
DuckDB error, an OverflowError while converting a value, Ctrl-C) leaves the agent's single
owner connection outside any transaction and usable for the next write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

log = logging.getLogger(__name__)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN, then COMMIT when the block ends normally; ROLLBACK when anything escapes it.

    Returning early from the block commits what was done so far (usually nothing, after a
    read that found the work already done).
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        # A failed COMMIT has already ended the transaction; nothing is left open.
        log.debug("rollback found no open transaction")
