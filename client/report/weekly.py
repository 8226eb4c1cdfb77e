"""The weekly report of one person: made once per (cohort, period), read back ever after.

`prepare` is what both `report preview` and `report send` call, so what a developer previews
is, value for value, what is sent. Functions take a DuckDB connection so the agent (the
database's owner) can run them for the CLI.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.client.config import Config
from worktally.client.errors import WorktallyError
from worktally.client.report import ledger, metrics, noise
from worktally.client.report.identity import Enrollment, check_cohort_budget
from worktally.client.report.ledger import Budget, LedgerEntry, UploadRecord
from worktally.client.wire.envelope import ReportPayload, seal
from worktally.client.wire.periods import IsoWeek
from worktally.client.wire.schema import METRIC_NAMES, SCHEMA_VERSION

Connection = duckdb.DuckDBPyConnection


@dataclass(frozen=True)
class PreparedReport:
    payload: ReportPayload
    idempotency_key: str
    budget: Budget  # the local cap per period
    spent: Budget  # committed for the period, this report included
    created_at: dt.datetime
    accepted_at: dt.datetime | None
    reused: bool  # True when the vector already existed (no new spend)


def local_budget(cfg: Config) -> Budget:
    return Budget(cfg.report.epsilon, cfg.report.delta)


def _payload(entry: LedgerEntry, enrollment: Enrollment) -> ReportPayload:
    return ReportPayload(
        schema_version=entry.schema_version, cohort=entry.cohort, period=entry.period,
        values=entry.values, epsilon=entry.epsilon, delta=entry.delta,
        mechanism=entry.mechanism, client_id=enrollment.client_id, nonce=entry.nonce,
    )


def prepare(con: Connection, enrollment: Enrollment, week: IsoWeek, cfg: Config,
            now: dt.datetime | None = None) -> PreparedReport:
    """The report for `week`: the stored noised vector, or a new one if the budget allows."""
    moment = now or dt.datetime.now(dt.UTC)
    period = str(week)
    existing = ledger.entry(con, enrollment.cohort, period)
    if existing is None:
        if week.start > moment:
            raise WorktallyError(f"{period} has not started yet; report a past week")
        budget = local_budget(cfg)
        check_cohort_budget(enrollment, budget)
        ledger.check_budget(con, period, Budget(enrollment.epsilon, enrollment.delta), budget)
        raw = metrics.raw_report(con, week, cfg)
        noised = noise.add_noise(raw.values, enrollment.epsilon, enrollment.delta,
                                 enrollment.mechanism)
        fresh = LedgerEntry(
            cohort=enrollment.cohort, period=period, schema_version=SCHEMA_VERSION,
            client_id=enrollment.client_id, epsilon=enrollment.epsilon,
            delta=enrollment.delta, mechanism=noised.mechanism, values=noised.values,
            nonce=secrets.token_hex(16), idempotency_key=secrets.token_hex(16),
            created_at=moment,
        )
        kept = ledger.insert(con, fresh, budget)
        reused = kept is not fresh
    else:
        if existing.schema_version != SCHEMA_VERSION:
            raise WorktallyError(
                f"the stored {period} report uses schema {existing.schema_version}; this "
                "client speaks another, so it cannot be resent"
            )
        kept, reused = existing, True
    return PreparedReport(
        payload=_payload(kept, enrollment), idempotency_key=kept.idempotency_key,
        budget=local_budget(cfg), spent=ledger.spent(con, period), created_at=kept.created_at,
        accepted_at=kept.accepted_at, reused=reused,
    )


def envelope(con: Connection, prepared: PreparedReport, signing_key: Ed25519PrivateKey,
             aggregator_public_key: bytes) -> bytes:
    """The sealed report, sealed once and kept, so every resend is byte-identical.

    A re-enrollment changes the client id and key, and only then is the vector re-sealed.
    """
    p = prepared.payload
    kept = ledger.stored_envelope(con, p.cohort, p.period)
    if kept is not None and kept[1] == p.client_id:
        return kept[0]
    data = seal(p, signing_key, aggregator_public_key)
    ledger.store_envelope(con, p.cohort, p.period, data, p.client_id)
    return data


def to_json(prepared: PreparedReport) -> dict[str, Any]:
    """Exactly the fields that leave (under `payload`), plus the local budget bookkeeping."""
    p = prepared.payload
    return {
        "payload": {
            "schema_version": p.schema_version, "cohort": p.cohort, "period": p.period,
            "values": dict(zip(METRIC_NAMES, p.values, strict=True)),
            "epsilon": p.epsilon, "delta": p.delta, "mechanism": p.mechanism,
            "client_id": p.client_id, "nonce": p.nonce,
        },
        "idempotency_key": prepared.idempotency_key,
        "budget": {"epsilon": prepared.budget.epsilon, "delta": prepared.budget.delta},
        "spent_this_period": {"epsilon": prepared.spent.epsilon, "delta": prepared.spent.delta},
        "created_at": prepared.created_at.isoformat(),
        "accepted_at": prepared.accepted_at.isoformat() if prepared.accepted_at else None,
        "reused": prepared.reused,
    }


def payload_from_json(data: dict[str, Any]) -> ReportPayload:
    """Rebuild the payload from `to_json` output (the CLI gets it from the agent as JSON)."""
    p = data["payload"]
    values = p["values"]
    if not isinstance(values, dict) or set(values) != set(METRIC_NAMES):
        raise WorktallyError("the prepared report does not match this client's schema")
    return ReportPayload(
        schema_version=int(p["schema_version"]), cohort=str(p["cohort"]),
        period=str(p["period"]), values=tuple(int(values[n]) for n in METRIC_NAMES),
        epsilon=float(p["epsilon"]), delta=float(p["delta"]), mechanism=str(p["mechanism"]),
        client_id=str(p["client_id"]), nonce=str(p["nonce"]),
    )


def record_attempts(con: Connection, records: list[UploadRecord]) -> None:
    """Log upload attempts; an accepted or duplicate answer marks the ledger entry accepted."""
    for record in records:
        ledger.record_upload(con, record)
        if record.status in ("accepted", "duplicate"):
            ledger.mark_accepted(con, record.cohort, record.period, record.attempted_at)

