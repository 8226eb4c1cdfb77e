"""Local-mode ingest: open an envelope, check it against the cohort's policy, add it to the sums.

Local mode is the fallback for a deployment with one server: each client noises its own
schema-2 vector (`dp_sampling.entry_noise_vector`) and this server adds the noised vectors
up. The whole check-and-add runs in one transaction, so a rejected report changes nothing,
and the report's values are folded into per-cohort, per-window sums at once: no individual
vector is stored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from worktally.aggregator import clock
from worktally.aggregator.errors import AggregatorError, Conflict, PolicyViolation
from worktally.aggregator.provisioning import find_cohort
from worktally.aggregator.releases import cohort_window
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
# Clients' clocks may run a little ahead: a window opens for reports from its start, less
# half a day (as in secure mode's upload).
WINDOW_SKEW = timedelta(hours=12)


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
                                  f"(this aggregator speaks {SCHEMA_VERSION}); update worktally")
        try:
            payload = envelope.open_envelope(data, private_key, lambda cid: _key(con, cid))
        except envelope.EnvelopeError as exc:
            raise RejectedEnvelope(exc) from exc
        slot = _check_policy(con, payload)
        if con.execute("SELECT 1 FROM receipts WHERE nonce = ?", [payload.nonce]).fetchone():
            raise Conflict("replayed report: this nonce was already received")
        # One report per person per window: per roster slot, so a reissued slot's new key
        # cannot report again for a window its old key reported for.
        if con.execute("SELECT 1 FROM receipts r JOIN clients c ON c.client_id = r.client_id "
                       "WHERE c.cohort = ? AND c.slot = ? AND r.period = ?",
                       [payload.cohort, slot, payload.period]).fetchone():
            raise Conflict(f"this person already reported for {payload.period}; one report "
                           "per person per window")
        con.execute("INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?)",
                    [payload.client_id, payload.period, idempotency_key, payload.nonce, sha,
                     clock.now()])
        _add_to_sums(con, payload.cohort, payload.period, payload.values)
    return IngestOutcome("accepted", payload.cohort, payload.period)


def _key(con: duckdb.DuckDBPyConnection, client_id: str) -> Ed25519PublicKey | None:
    # Only a live key bound to a roster slot counts: "k means k people".
    row = con.execute("SELECT public_key FROM clients WHERE client_id = ? AND "
                      "revoked_at IS NULL AND slot IS NOT NULL", [client_id]).fetchone()
    return Ed25519PublicKey.from_public_bytes(bytes(row[0])) if row else None


def _check_policy(con: duckdb.DuckDBPyConnection, payload: envelope.ReportPayload) -> int:
    """Check a signed report against its client's cohort; return the client's roster slot."""
    client = con.execute("SELECT cohort, slot FROM clients WHERE client_id = ?",
                         [payload.client_id]).fetchone()
    if client is None:  # open_envelope found the key, so only a broken database gets here
        raise RejectedEnvelope(envelope.UnknownClient("this client has no cohort; enroll again"))
    cohort = find_cohort(con, client[0])
    assert cohort is not None, "clients.cohort names a cohort"
    if cohort.mode != "local":
        raise PolicyViolation(f"{cohort.name} reports through secure aggregation; a locally "
                              "noised envelope is not accepted for it")
    if payload.cohort != cohort.name:
        raise PolicyViolation(f"this client is enrolled in another cohort than "
                              f"{payload.cohort!r}; re-enroll with that team's token")
    if (payload.mechanism != cohort.mechanism or not math.isclose(payload.epsilon, cohort.epsilon)
            or payload.delta != cohort.delta):
        raise PolicyViolation(f"the report's privacy policy differs from the cohort's (ε="
                              f"{cohort.epsilon} per {cohort.window}, δ={cohort.delta}, "
                              f"{cohort.mechanism}); re-enroll to fetch it")
    window = cohort_window(cohort.window, payload.period)
    if window.start - WINDOW_SKEW > clock.now():
        raise PolicyViolation(f"{payload.period} has not started yet; reports for it open at "
                              f"{window.start.isoformat()}")
    if len(payload.values) != len(METRIC_NAMES):
        raise PolicyViolation(f"a report has {len(METRIC_NAMES)} values, not "
                              f"{len(payload.values)}")
    ranges = local_accepted_range(cohort.epsilon)
    for name, value, (lo, hi) in zip(METRIC_NAMES, payload.values, ranges, strict=True):
        if not lo <= value <= hi:
            raise PolicyViolation(f"{name}={value} is outside [{lo}, {hi}], which noise on a "
                                  "clipped value cannot produce")
    if con.execute("SELECT 1 FROM releases WHERE cohort = ? AND period = ?",
                   [cohort.name, payload.period]).fetchone():
        raise Conflict(f"{cohort.name} {payload.period} is already released; reports for it "
                       "are closed")
    return int(client[1])


def _add_to_sums(con: duckdb.DuckDBPyConnection, cohort: str, period: str,
                 values: tuple[int, ...]) -> None:
    # One statement over unnested lists: executemany would run one upsert per metric.
    con.execute(
        "INSERT INTO sums SELECT ?, ?, unnest(?::VARCHAR[]), unnest(?::BIGINT[]) "
        "ON CONFLICT (cohort, period, metric) DO UPDATE SET total = sums.total + excluded.total",
        [cohort, period, list(METRIC_NAMES), list(values)])
    con.execute("INSERT INTO contributions VALUES (?, ?, 1) ON CONFLICT (cohort, period) "
                "DO UPDATE SET n = contributions.n + 1", [cohort, period])
