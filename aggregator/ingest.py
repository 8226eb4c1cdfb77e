"""Ingest: open an envelope, check it against the cohort's policy, and add it to the sums.

The whole check-and-add runs in one transaction, so a rejected report changes nothing, and
the report's values are folded into per-cohort sums at once: no individual vector is stored.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from worktally.aggregator.errors import AggregatorError, Conflict, PolicyViolation
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire import envelope
from worktally.client.wire.errors import PeriodError
from worktally.client.wire.periods import parse_week
from worktally.client.wire.schema import (
    METRIC_NAMES,
    METRICS,
    SCHEMA_VERSION,
    accepted_range,
    noise_parameters,
)

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
_STATUS = {
    envelope.EnvelopeTooLarge: 413,
    envelope.MalformedEnvelope: 400,
    envelope.SealError: 400,
    envelope.BadSignature: 403,
    envelope.UnknownClient: 403,
    envelope.HeaderMismatch: 422,
}


class RejectedEnvelope(AggregatorError):
    """An envelope error, with the HTTP status the API answers it with."""

    def __init__(self, error: envelope.EnvelopeError) -> None:
        super().__init__(str(error))
        self.status = _STATUS.get(type(error), 400)


@dataclass(frozen=True)
class IngestOutcome:
    """`accepted` for a new report, `duplicate` for a retry of one already counted."""

    status: str
    cohort: str
    period: str


def ingest(store: AggregatorStore, private_key: X25519PrivateKey, data: bytes,
           idempotency_key: str) -> IngestOutcome:
    """Validate and count one sealed report; raise an AggregatorError saying why not."""
    if not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise PolicyViolation("Idempotency-Key must be 8-128 letters, digits, '_', '.', ':' or '-'")
    try:
        header, _, _ = envelope.read_header(data)
    except envelope.EnvelopeError as exc:
        raise RejectedEnvelope(exc) from exc
    sha = hashlib.sha256(data).hexdigest()
    with store.transaction() as con:
        seen = con.execute("SELECT envelope_sha256, period FROM receipts "
                           "WHERE idempotency_key = ?", [idempotency_key]).fetchone()
        if seen is not None:
            if seen[0] != sha:
                raise Conflict("this Idempotency-Key was used for a different report; "
                               "use a fresh key for a new report")
            return IngestOutcome("duplicate", header.cohort, seen[1])
        if header.schema_version != SCHEMA_VERSION:
            raise PolicyViolation(f"schema version {header.schema_version} is not accepted "
                                  f"(this aggregator speaks {SCHEMA_VERSION}); update worktally")
        try:
            payload = envelope.open_envelope(data, private_key, lambda cid: _key(con, cid))
        except envelope.EnvelopeError as exc:
            raise RejectedEnvelope(exc) from exc
        _check_policy(con, payload)
        if con.execute("SELECT 1 FROM receipts WHERE nonce = ?", [payload.nonce]).fetchone():
            raise Conflict("replayed report: this nonce was already received")
        if con.execute("SELECT 1 FROM receipts WHERE client_id = ? AND period = ?",
                       [payload.client_id, payload.period]).fetchone():
            raise Conflict(f"this client already reported for {payload.period}; "
                           "one report per person per period")
        con.execute("INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?)",
                    [payload.client_id, payload.period, idempotency_key, payload.nonce, sha,
                     datetime.now(UTC)])
        _add_to_sums(con, payload.cohort, payload.period, payload.values)
    return IngestOutcome("accepted", payload.cohort, payload.period)


def _key(con: duckdb.DuckDBPyConnection, client_id: str) -> Ed25519PublicKey | None:
    row = con.execute("SELECT public_key FROM clients WHERE client_id = ? AND "
                      "revoked_at IS NULL", [client_id]).fetchone()
    return Ed25519PublicKey.from_public_bytes(bytes(row[0])) if row else None


# Clients' clocks may run a little ahead; a week is open from its Monday 00:00 UTC minus this.
CLOCK_SKEW = timedelta(hours=12)


def _check_period(period: str) -> None:
    """Only weeks that have started: a report for a future week would sit in the sums
    before any of the work it claims to count could have happened."""
    try:
        week = parse_week(period)
    except PeriodError as exc:
        raise PolicyViolation(f"period {period!r} is not an ISO week like 2026-W48") from exc
    if week.start - CLOCK_SKEW > datetime.now(UTC):
        raise PolicyViolation(f"{period} has not started yet; reports open on its Monday "
                              "(UTC)")


def _check_policy(con: duckdb.DuckDBPyConnection, payload: envelope.ReportPayload) -> None:
    _check_period(payload.period)
    client = con.execute("SELECT cl.cohort, c.epsilon, c.delta, c.mechanism FROM clients cl "
                         "JOIN cohorts c ON c.name = cl.cohort WHERE cl.client_id = ?",
                         [payload.client_id]).fetchone()
    if client is None:  # open_envelope found the key, so only a broken database gets here
        raise RejectedEnvelope(envelope.UnknownClient("this client has no cohort; enroll again"))
    cohort, epsilon, delta, mechanism = client
    if con.execute("SELECT 1 FROM dap_tasks WHERE cohort = ?", [cohort]).fetchone():
        raise PolicyViolation(f"{cohort} reports through secure aggregation; a locally noised "
                              "envelope is not accepted for it")
    if payload.cohort != cohort:
        raise PolicyViolation(f"this client is enrolled in another cohort than "
                              f"{payload.cohort!r}; re-enroll with that team's token")
    if (payload.mechanism != mechanism or not math.isclose(payload.epsilon, epsilon)
            or not math.isclose(payload.delta, delta, abs_tol=1e-15)):
        raise PolicyViolation(f"DP parameters differ from the cohort's policy (epsilon="
                              f"{epsilon}, delta={delta}, {mechanism}); re-enroll to fetch it")
    if len(payload.values) != len(METRICS):
        raise PolicyViolation(f"a report has {len(METRICS)} values, not {len(payload.values)}")
    noise = noise_parameters(epsilon, delta, mechanism)
    for metric, value in zip(METRICS, payload.values, strict=True):
        lo, hi = accepted_range(metric, noise[metric.name])
        if not lo <= value <= hi:
            raise PolicyViolation(f"{metric.name}={value} is outside [{lo}, {hi}], which "
                                  "noise on a clipped value cannot produce")
    if con.execute("SELECT 1 FROM releases WHERE cohort = ? AND period = ?",
                   [cohort, payload.period]).fetchone():
        raise Conflict(f"{cohort} {payload.period} is already released; reports for it "
                       "are closed")


def _add_to_sums(con: duckdb.DuckDBPyConnection, cohort: str, period: str,
                 values: tuple[int, ...]) -> None:
    # One statement over unnested lists: executemany would run eleven upserts.
    con.execute(
        "INSERT INTO sums SELECT ?, ?, unnest(?::VARCHAR[]), unnest(?::BIGINT[]) "
        "ON CONFLICT (cohort, period, metric) DO UPDATE SET total = sums.total + excluded.total",
        [cohort, period, list(METRIC_NAMES), list(values)])
    con.execute("INSERT INTO contributions VALUES (?, ?, 1) ON CONFLICT (cohort, period) "
                "DO UPDATE SET n = contributions.n + 1", [cohort, period])
