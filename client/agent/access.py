"""How a CLI command reaches the database: ask the running agent, else hold the lock briefly.

A CLI never opens the DuckDB while an agent runs (DuckDB allows one process per file); when
none runs it takes the agent lock for the length of one request and runs the same handler.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import duckdb

from worktally.client import config
from worktally.client.agent.control import ask
from worktally.client.agent.lock import AgentLock, holder_pid
from worktally.client.agent.requests import RequestContext, handle
from worktally.client.capture.line_keys import default_keyer
from worktally.client.errors import AgentBusyError
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db

POLL_S = 0.05
DEFAULT_WAIT_S = 15.0


class LazyConnection:
    """Opens the database on first use, so `repos list` or `pause` never create or lock it."""

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        if self._con is None:
            self._con = db.connect()
        return fn(self._con)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def run_locally(request: dict[str, Any]) -> dict[str, Any]:
    """Handle a request in this process; the caller must hold the agent lock."""
    keyer = default_keyer()
    lazy = LazyConnection()
    ctx = RequestContext(
        keyer=keyer,
        registry=RepoRegistry(keyer),
        cfg=config.load(),
        run_db=lazy.run,
        agent=False,
    )
    # As in the agent: files DuckDB creates meanwhile (its WAL) must be owner-only.
    old_umask = os.umask(0o077)
    try:
        return handle(ctx, request)
    finally:
        lazy.close()
        os.umask(old_umask)


def call(
    request: dict[str, Any], timeout: float = 30.0, wait_s: float = DEFAULT_WAIT_S
) -> tuple[dict[str, Any], bool]:
    """Answer `request` through the agent or locally; returns (result, answered_by_agent)."""
    deadline = time.monotonic() + wait_s
    while True:
        answer = ask(request, timeout=timeout)
        if answer is not None:
            return answer, True
        lock = AgentLock()
        if lock.try_acquire():
            try:
                return run_locally(request), False
            finally:
                lock.release()
        # The holder is another short CLI command, or an agent not yet listening: wait.
        if time.monotonic() >= deadline:
            pid = holder_pid()
            raise AgentBusyError(
                f"the local database is busy (held by pid {pid or 'unknown'}) and no agent "
                "answers; wait for that process or stop it, then retry"
            )
        time.sleep(POLL_S)
