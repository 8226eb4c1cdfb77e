"""Reading the audit log: every cohort change, token, enrollment, revocation, roster change,
hold and release, with the actor that did it (`auth.Actor`), filtered.

Entries are written where the change happens, in the same transaction (`audit`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from worktally.aggregator import clock
from worktally.aggregator.errors import PolicyViolation
from worktally.aggregator.store import AggregatorStore

MAX_ENTRIES = 10_000


def audit(con: duckdb.DuckDBPyConnection, actor: str, action: str, cohort: str | None,
          period: str | None, detail: str) -> None:
    """Write one entry, inside the caller's transaction."""
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
                [clock.now(), actor, action, cohort, period, detail])


@dataclass(frozen=True)
class AuditFilter:
    """Every field narrows the list; `actor` matches part of the actor's name (a role, a
    token id, "offline CLI", "client")."""

    cohort: str | None = None
    period: str | None = None
    action: str | None = None
    actor: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 1000

    def to_json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, dt.datetime) else v
                for k, v in asdict(self).items() if v is not None}


def read_audit(store: AggregatorStore, wanted: AuditFilter) -> list[dict[str, Any]]:
    """The newest `limit` matching entries, oldest first."""
    if not 1 <= wanted.limit <= MAX_ENTRIES:
        raise PolicyViolation(f"limit must be 1 to {MAX_ENTRIES}")
    with store.transaction() as con:
        rows = con.execute(
            "SELECT ts, actor, action, cohort, period, detail FROM audit_log WHERE "
            "(? IS NULL OR cohort = ?) AND (? IS NULL OR period = ?) AND "
            "(? IS NULL OR action = ?) AND (? IS NULL OR contains(lower(actor), lower(?))) AND "
            "(? IS NULL OR ts >= ?) AND (? IS NULL OR ts < ?) "
            "ORDER BY ts DESC, rowid DESC LIMIT ?",
            [wanted.cohort, wanted.cohort, wanted.period, wanted.period, wanted.action,
             wanted.action, wanted.actor, wanted.actor, wanted.since, wanted.since,
             wanted.until, wanted.until, wanted.limit]).fetchall()
    return [{"ts": ts.isoformat(), "actor": actor, "action": action, "cohort": cohort,
             "period": period, "detail": detail}
            for ts, actor, action, cohort, period, detail in reversed(rows)]
