"""Local-mode ingest: open an envelope, check it against the cohort's policy, keep it sealed.

Local mode is the fallback for a deployment with one server: each client noises its own
schema-2 vector (`dp_sampling.entry_noise_vector`) and this server adds the noised vectors
up when the window is released. The whole check-and-keep runs in one transaction, so a
rejected report changes nothing; an accepted one is kept sealed under its window's key
(`local_reports.py`) and never summed before the release, so the database files hold no
running total whose change is one person's vector.

Every refusal carries a `reason` code the client maps to advice (`client/report/upload.py`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from worktally.aggregator import clock, local_reports
from worktally.aggregator.enrollment import refuse_revoked
from worktally.aggregator.errors import AggregatorError, Conflict, Forbidden, PolicyViolation
from worktally.aggregator.provisioning import find_cohort
from worktally.aggregator.releases import cohort_window
from worktally.aggregator.report_windows import takes_reports
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire import envelope
from worktally.client.wire.measurement import (
    METRIC_NAMES,
    SCHEMA_VERSION,
    local_accepted_range,
)

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
        super().__init__(str(error), "not_enrolled" if isinstance(
            error, envelope.UnknownClient) else "invalid")
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
    if not envelope.is_idempotency_key(idempotency_key):
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
                                  f"(this aggregator speaks {SCHEMA_VERSION}); update worktally",
                                  "schema_mismatch")
        try:
            payload = envelope.open_envelope(data, private_key, lambda cid: _key(con, cid))
        except envelope.EnvelopeError as exc:
            raise RejectedEnvelope(exc) from exc
        slot = _check_policy(con, payload)
        if con.execute("SELECT 1 FROM receipts WHERE nonce = ?", [payload.nonce]).fetchone():
            raise Conflict("replayed report: this nonce was already received", "replayed")
        # One report per person per window: per roster slot, so a reissued slot's new key
        # cannot report again for a window its old key reported for.
        if con.execute("SELECT 1 FROM receipts r JOIN clients c ON c.client_id = r.client_id "
                       "WHERE c.cohort = ? AND c.slot = ? AND r.period = ?",
                       [payload.cohort, slot, payload.period]).fetchone():
            raise Conflict(f"this person already reported for {payload.period}; one report "
                           "per person per window", "already_reported")
        now = clock.now()
        con.execute("INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?)",
                    [payload.client_id, payload.period, idempotency_key, payload.nonce, sha,
                     now])
        local_reports.keep(con, store.root, payload.cohort, payload.period, payload.client_id,
                           payload.values, now)
    return IngestOutcome("accepted", payload.cohort, payload.period)


def _key(con: duckdb.DuckDBPyConnection, client_id: str) -> Ed25519PublicKey | None:
    # Any key bound to a roster slot opens its envelope; a revoked one is refused after, with
    # the reason (`_check_policy`), so its owner learns what to do.
    row = con.execute("SELECT public_key FROM clients WHERE client_id = ? AND "
                      "slot IS NOT NULL", [client_id]).fetchone()
    return Ed25519PublicKey.from_public_bytes(bytes(row[0])) if row else None


def _check_policy(con: duckdb.DuckDBPyConnection, payload: envelope.ReportPayload) -> int:
    """Check a signed report against its client's cohort; return the client's roster slot."""
    client = con.execute("SELECT cohort, slot, revoked_at, revoke_reason FROM clients "
                         "WHERE client_id = ?", [payload.client_id]).fetchone()
    if client is None:  # open_envelope found the key, so only a broken database gets here
        raise RejectedEnvelope(envelope.UnknownClient("this client has no cohort; enroll again"))
    if client[2] is not None:
        refuse_revoked(client[3])
    cohort = find_cohort(con, client[0])
    assert cohort is not None, "clients.cohort names a cohort"
    if cohort.mode != "local":
        raise PolicyViolation(f"{cohort.name} reports through secure aggregation; a locally "
                              "noised envelope is not accepted for it", "wrong_mode")
    if payload.cohort != cohort.name:
        raise PolicyViolation(f"this client is enrolled in another cohort than "
                              f"{payload.cohort!r}; re-enroll with that team's token",
                              "policy_changed")
    slot = int(client[1])
    if slot > cohort.roster_size:
        raise Forbidden(f"roster slot {slot} is over {cohort.name}'s roster of "
                        f"{cohort.roster_size}", "over_roster")
    if (payload.mechanism != cohort.mechanism or not math.isclose(payload.epsilon, cohort.epsilon)
            or payload.delta != cohort.delta):
        raise PolicyViolation(f"the report's privacy policy differs from the cohort's (ε="
                              f"{cohort.epsilon} per {cohort.window}, δ={cohort.delta}, "
                              f"{cohort.mechanism}); re-enroll to fetch it", "policy_changed")
    window = cohort_window(cohort.window, payload.period)
    if len(payload.values) != len(METRIC_NAMES):
        raise PolicyViolation(f"a report has {len(METRIC_NAMES)} values, not "
                              f"{len(payload.values)}", "invalid")
    ranges = local_accepted_range(cohort.epsilon)
    for name, value, (lo, hi) in zip(METRIC_NAMES, payload.values, ranges, strict=True):
        if not lo <= value <= hi:
            raise PolicyViolation(f"{name}={value} is outside [{lo}, {hi}], which noise on a "
                                  "clipped value cannot produce", "invalid")
    if con.execute("SELECT 1 FROM releases WHERE cohort = ? AND period = ?",
                   [cohort.name, payload.period]).fetchone():
        raise Conflict(f"{cohort.name} {payload.period} is already released; reports for it "
                       "are closed", "window_released")
    refusal = takes_reports(window, clock.now())
    if refusal is not None:
        error = PolicyViolation if refusal.reason == "window_not_started" else Conflict
        raise error(refusal.detail, refusal.reason)
    return slot
