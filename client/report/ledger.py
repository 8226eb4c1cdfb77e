"""The local report ledger (DuckDB): one report per (cohort, window), and every upload attempt.

A window's report is made once and kept: every retry and resend reads it back, so its ε is
spent once and what leaves is byte-identical each time. The budget check and the insert
happen in one transaction, so two concurrent sends cannot both spend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from worktally.client.store.transaction import transaction

Connection = duckdb.DuckDBPyConnection


@dataclass(frozen=True)
class StoredReport:
    """A window's report as made: what the person's numbers were and what leaves."""

    cohort: str
    window_kind: str
    window_label: str
    budget_year: int
    mode: str  # secure | local
    schema_version: int
    epsilon: float
    client_id: str
    report_id: str
    true_values: tuple[int, ...]
    sent_values: tuple[int, ...] | None  # local mode: the noised values; secure: None
    body: bytes
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
    values: tuple[int, ...]  # the values that left in clear (local mode), else ()
    detail: str | None = None


_COLUMNS = ("cohort, window_kind, window_label, budget_year, mode, schema_version, epsilon, "
            "client_id, report_id, true_values, sent_values, body, created_at, accepted_at")


def _report(row: tuple[Any, ...]) -> StoredReport:
    (cohort, kind, label, year, mode, schema, epsilon, client_id, report_id, true_values,
     sent_values, body, created_at, accepted_at) = row
    return StoredReport(
        cohort, kind, label, int(year), mode, int(schema), float(epsilon), client_id,
        report_id, tuple(true_values), None if sent_values is None else tuple(sent_values),
        bytes(body), created_at, accepted_at)


def stored(con: Connection, cohort: str, kind: str, label: str) -> StoredReport | None:
    row = con.execute(
        f"SELECT {_COLUMNS} FROM report_windows WHERE cohort = ? AND window_kind = ? "
        "AND window_label = ?", [cohort, kind, label]).fetchone()
    return _report(row) if row else None


def reports(con: Connection) -> list[StoredReport]:
    rows = con.execute(f"SELECT {_COLUMNS} FROM report_windows "
                       "ORDER BY created_at, cohort").fetchall()
    return [_report(r) for r in rows]


def insert(con: Connection, make: Callable[[], StoredReport],
           check: Callable[[], object]) -> tuple[StoredReport, bool]:
    """The window's report: the stored one, or (after `check` passes) a new one from `make`.

    Returns the report kept and whether it was already there (then nothing is spent).
    """
    with transaction(con):
        fresh = make()
        existing = stored(con, fresh.cohort, fresh.window_kind, fresh.window_label)
        if existing is not None:
            return existing, True
        check()
        con.execute(
            f"INSERT INTO report_windows ({_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [fresh.cohort, fresh.window_kind, fresh.window_label, fresh.budget_year,
             fresh.mode, fresh.schema_version, fresh.epsilon, fresh.client_id,
             fresh.report_id, list(fresh.true_values),
             None if fresh.sent_values is None else list(fresh.sent_values), fresh.body,
             fresh.created_at, fresh.accepted_at])
    return fresh, False


def replace_body(con: Connection, report: StoredReport, report_id: str, body: bytes) -> None:
    """A report sealed again (same values, same window): its new id and bytes."""
    con.execute("UPDATE report_windows SET report_id = ?, body = ? WHERE cohort = ? AND "
                "window_kind = ? AND window_label = ? AND accepted_at IS NULL",
                [report_id, body, report.cohort, report.window_kind, report.window_label])


def mark_accepted(con: Connection, cohort: str, label: str, when: dt.datetime) -> None:
    con.execute(
        "UPDATE report_windows SET accepted_at = coalesce(accepted_at, ?) "
        "WHERE cohort = ? AND window_label = ?", [when, cohort, label])


def last_accepted(con: Connection) -> StoredReport | None:
    row = con.execute(f"SELECT {_COLUMNS} FROM report_windows WHERE accepted_at IS NOT NULL "
                      "ORDER BY accepted_at DESC LIMIT 1").fetchone()
    return _report(row) if row else None


def record_upload(con: Connection, record: UploadRecord) -> None:
    con.execute(
        "INSERT INTO report_uploads (attempted_at, cohort, period, epsilon, delta, status, "
        "http_status, sent_values, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [record.attempted_at, record.cohort, record.period, record.epsilon, record.delta,
         record.status, record.http_status, list(record.values), record.detail])
    if record.status in ("accepted", "duplicate"):
        mark_accepted(con, record.cohort, record.period, record.attempted_at)


def uploads(con: Connection) -> list[UploadRecord]:
    rows = con.execute(
        "SELECT attempted_at, cohort, period, epsilon, delta, status, http_status, "
        "sent_values, detail FROM report_uploads ORDER BY attempted_at").fetchall()
    return [UploadRecord(at, cohort, period, float(eps), float(delta), status,
                         None if code is None else int(code), tuple(int(v) for v in values),
                         detail)
            for at, cohort, period, eps, delta, status, code, values, detail in rows]
