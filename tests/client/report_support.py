"""Helpers for the report tests: seed a real local DuckDB with one week of activity."""

from __future__ import annotations

import datetime as dt
from typing import Any

from worktally.client.wire.periods import IsoWeek

Connection = Any


def seed_week(con: Connection, week: IsoWeek, canary: str = "canary", ai_lines: int = 40,
              tokens: int = 12_345) -> None:
    """One week of AI edits, commits, survival, sessions and tokens; text fields hold `canary`."""
    at = week.start + dt.timedelta(days=2, hours=3)
    con.execute(
        "INSERT INTO edit_lines SELECT ? || range, range, ?, 'ai', ?, 'agent', ?, ?, ? "
        "FROM range(?)",
        [f"{canary}-event-", at, f"{canary}-tool", f"{canary}-session", f"{canary}-file",
         f"{canary}-repo", ai_lines],
    )
    con.execute(
        "INSERT INTO edit_lines VALUES (?, 99, ?, 'typed', NULL, NULL, NULL, ?, ?)",
        [f"{canary}-typed", at, f"{canary}-file", f"{canary}-repo"],
    )
    con.execute(
        "INSERT INTO commits VALUES (?, ?, ?, false, 100, 30, 5, 0, 65, true, ?, 0, 0)",
        [f"{canary}-repo", f"{canary}-sha", at, at],
    )
    # A commit 14 days before the week's Wednesday: its survival window closes in the week.
    old = at - dt.timedelta(days=14)
    con.execute(
        "INSERT INTO commits VALUES (?, ?, ?, false, 20, 20, 0, 0, 0, true, ?, 0, 0)",
        [f"{canary}-repo", f"{canary}-old", old, old],
    )
    con.execute(
        "INSERT INTO survival VALUES (?, ?, ?, 14, 20, 17)", [f"{canary}-repo", f"{canary}-old", at]
    )
    con.execute(
        "INSERT INTO ai_sessions VALUES (?, ?, 'agent', ?, ?, ?, true)",
        [f"{canary}-session", f"{canary}-tool", f"{canary}-repo", at, at],
    )
    con.execute(
        "INSERT INTO token_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, false, 'transcript')",
        [f"{canary}-usage", f"{canary}-session", f"{canary}-tool", f"{canary}-model", at,
         tokens - 645, 300, 45, 300],
    )
