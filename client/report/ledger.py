"""The local privacy budget ledger and upload log (DuckDB tables of migration 3).

A (cohort, period) gets one noised vector, made once and kept: every preview, retry and
resend reads it back, so the budget of a period is spent once and never exceeded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from worktally.client.errors import BudgetExceededError
from worktally.client.store.transaction import transaction

Connection = duckdb.DuckDBPyConnection
# Budgets are floats summed over cohorts; this slack only absorbs rounding.
BUDGET_SLACK = 1e-9


@dataclass(frozen=True)
class LedgerEntry:
    cohort: str
    period: str
    schema_version: int
    client_id: str
    epsilon: float
    delta: float
    mechanism: str
    values: tuple[int, ...]
    nonce: str
    idempotency_key: str
    created_at: dt.datetime
    accepted_at: dt.datetime | None = None


@dataclass(frozen=True)
class UploadRecord:
    attempted_at: dt.datetime
    cohort: str
    period: str
    epsilon: float
    delta: float
    status: str  # accepted, duplicate, rejected, failed
    http_status: int | None
    values: tuple[int, ...]
    detail: str | None = None


@dataclass(frozen=True)
class Budget:
    epsilon: float
    delta: float


_ENTRY_COLUMNS = (
    "cohort, period, schema_version, client_id, epsilon, delta, mechanism, noised_values, "
    "nonce, idempotency_key, created_at, accepted_at"
)


def _entry(row: tuple[Any, ...]) -> LedgerEntry:
    (cohort, period, version, client_id, eps, delta, mech, values, nonce, key, created,
     accepted) = row
    return LedgerEntry(
        str(cohort), str(period), int(version), str(client_id), float(eps), float(delta),
        str(mech), tuple(int(v) for v in values), str(nonce), str(key), created, accepted,
    )


def entry(con: Connection, cohort: str, period: str) -> LedgerEntry | None:
    row = con.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM report_ledger WHERE cohort = ? AND period = ?",
        [cohort, period],
    ).fetchone()
    return _entry(row) if row else None


def entries(con: Connection) -> list[LedgerEntry]:
    rows = con.execute(
        f"SELECT {_ENTRY_COLUMNS} FROM report_ledger ORDER BY period, cohort"
    ).fetchall()
    return [_entry(r) for r in rows]


def spent(con: Connection, period: str) -> Budget:
    """ε and δ already committed for `period`, over every cohort."""
    row = con.execute(
        "SELECT coalesce(sum(epsilon), 0), coalesce(sum(delta), 0) FROM report_ledger "
        "WHERE period = ?",
        [period],
    ).fetchone()
    return Budget(float(row[0]), float(row[1])) if row else Budget(0.0, 0.0)


def check_budget(con: Connection, period: str, want: Budget, budget: Budget) -> None:
    """Raise BudgetExceededError unless `want` fits in what `period` has left."""
    used = spent(con, period)
    for name, have, ask, cap in (("ε", used.epsilon, want.epsilon, budget.epsilon),
                                 ("δ", used.delta, want.delta, budget.delta)):
        if have + ask > cap + BUDGET_SLACK:
            raise BudgetExceededError(
                f"a report for {period} needs {name}={ask:g}, but {name}={have:g} of the "
                f"local budget {name}={cap:g} is already spent for that period; nothing was "
                "sent (raise report.epsilon/report.delta in config.toml only if you accept "
                "the weaker privacy)"
            )


def insert(con: Connection, new: LedgerEntry, budget: Budget) -> LedgerEntry:
    """Record a fresh noised vector, atomically with the budget check; returns the entry kept.

    If the (cohort, period) already has a vector, that one is returned and nothing is spent.
    """
    with transaction(con):
        existing = entry(con, new.cohort, new.period)
        if existing is not None:
            return existing
        check_budget(con, new.period, Budget(new.epsilon, new.delta), budget)
        con.execute(
            f"INSERT INTO report_ledger ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)",
            [new.cohort, new.period, new.schema_version, new.client_id, new.epsilon, new.delta,
             new.mechanism, list(new.values), new.nonce, new.idempotency_key, new.created_at,
             new.accepted_at],
        )
    return new


def mark_accepted(con: Connection, cohort: str, period: str, when: dt.datetime) -> None:
    con.execute(
        "UPDATE report_ledger SET accepted_at = coalesce(accepted_at, ?) "
        "WHERE cohort = ? AND period = ?",
        [when, cohort, period],
    )


def stored_envelope(con: Connection, cohort: str, period: str) -> tuple[bytes, str] | None:
    """The sealed bytes kept for (cohort, period) and the client id they were signed for."""
    row = con.execute(
        "SELECT envelope, envelope_client_id FROM report_ledger WHERE cohort = ? AND period = ? "
        "AND envelope IS NOT NULL",
        [cohort, period],
    ).fetchone()
    return (bytes(row[0]), str(row[1])) if row else None


def store_envelope(con: Connection, cohort: str, period: str, envelope: bytes,
                   client_id: str) -> None:
    con.execute(
        "UPDATE report_ledger SET envelope = ?, envelope_client_id = ? "
        "WHERE cohort = ? AND period = ?",
        [envelope, client_id, cohort, period],
    )


def record_upload(con: Connection, record: UploadRecord) -> None:
    con.execute(
        "INSERT INTO report_uploads (attempted_at, cohort, period, epsilon, delta, status, "
        "http_status, sent_values, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [record.attempted_at, record.cohort, record.period, record.epsilon, record.delta,
         record.status, record.http_status, list(record.values), record.detail],
    )


def uploads(con: Connection) -> list[UploadRecord]:
    rows = con.execute(
        "SELECT attempted_at, cohort, period, epsilon, delta, status, http_status, sent_values, "
        "detail FROM report_uploads ORDER BY attempted_at"
    ).fetchall()
    return [
        UploadRecord(r[0], str(r[1]), str(r[2]), float(r[3]), float(r[4]), str(r[5]),
                     None if r[6] is None else int(r[6]), tuple(int(v) for v in r[7]),
                     None if r[8] is None else str(r[8]))
        for r in rows
    ]
