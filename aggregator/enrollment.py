"""Enrollment: a client trades its cohort's token and an Ed25519 public key for a client id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from worktally.aggregator.errors import AuthError, PolicyViolation
from worktally.aggregator.provisioning import Cohort, digest
from worktally.aggregator.store import AggregatorStore


@dataclass(frozen=True)
class Enrollment:
    client_id: str
    cohort: Cohort


def enroll(store: AggregatorStore, token: str, public_key: bytes) -> Enrollment:
    """Enroll a key in the token's cohort; enrolling the same key again returns the same id."""
    if len(public_key) != 32:
        raise PolicyViolation("public_key must be a raw 32-byte Ed25519 key, base64-encoded")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise PolicyViolation("public_key is not a valid Ed25519 key") from exc
    with store.transaction() as con:
        row = con.execute("SELECT c.name, c.roster_size, c.epsilon, c.delta, c.mechanism "
                          "FROM tokens t JOIN cohorts c ON c.name = t.cohort "
                          "WHERE t.token_sha256 = ? AND t.role = 'enroll'",
                          [digest(token)]).fetchone()
        if row is None:
            raise AuthError("unknown enrollment token; ask your admin for your team's token")
        cohort = Cohort(*row)
        existing = con.execute("SELECT client_id, cohort FROM clients WHERE public_key = ?",
                               [public_key]).fetchone()
        if existing is not None:
            if existing[1] != cohort.name:
                raise PolicyViolation("this key is enrolled in another cohort; "
                                      "generate a new key to join this one")
            return Enrollment(existing[0], cohort)
        client_id = secrets.token_hex(16)
        con.execute("INSERT INTO clients VALUES (?, ?, ?, ?)",
                    [client_id, cohort.name, public_key, datetime.now(UTC)])
    return Enrollment(client_id, cohort)


def lookup_keys(store: AggregatorStore) -> dict[str, tuple[str, Ed25519PublicKey]]:
    """Every enrolled client's cohort and verifying key (for benchmarks and bulk checks)."""
    with store.transaction() as con:
        rows = con.execute("SELECT client_id, cohort, public_key FROM clients").fetchall()
    return {cid: (cohort, Ed25519PublicKey.from_public_bytes(bytes(key)))
            for cid, cohort, key in rows}
