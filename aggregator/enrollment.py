"""Enrollment: a client trades a token and an Ed25519 public key for a client id.

"k means k people": a cohort has `roster` slots. The admin issues one-use, expiring tokens,
each bound to a slot, up to the roster; enrolling consumes the token and binds the key to the
slot. A reissued token for a slot replaces that slot's key (the old one is revoked), so a
cohort never holds more live keys than its roster. Only SHA-256 digests of tokens are stored.

Local-mode cohorts also still accept their cohort-wide token (the older path; the lead moves
local mode to slots with schema v2).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from worktally.aggregator.errors import AuthError, Conflict, NotFound, PolicyViolation
from worktally.aggregator.provisioning import Cohort, digest, new_token
from worktally.aggregator.releases import audit
from worktally.aggregator.store import AggregatorStore

DEFAULT_TOKEN_DAYS = 14
MAX_TOKEN_DAYS = 90


@dataclass(frozen=True)
class Enrollment:
    client_id: str
    cohort: Cohort
    slot: int | None = None


@dataclass(frozen=True)
class SlotToken:
    """A token as issued (shown once): the slot it fills and when it stops working."""

    cohort: str
    slot: int
    token: str
    expires_at: datetime


def issue_tokens(store: AggregatorStore, cohort: str, count: int = 1, slot: int | None = None,
                 days: int = DEFAULT_TOKEN_DAYS, actor: str = "admin") -> list[SlotToken]:
    """New slots' tokens (up to the roster), or, with `slot`, a replacement for that slot."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise PolicyViolation(f"a token expires after 1 to {MAX_TOKEN_DAYS} days")
    if slot is not None and count != 1:
        raise PolicyViolation("reissue one slot at a time (--slot with --count 1)")
    if count < 1:
        raise PolicyViolation("--count must be at least 1")
    now = datetime.now(UTC)
    expires = now + timedelta(days=days)
    with store.transaction() as con:
        row = con.execute("SELECT roster_size FROM cohorts WHERE name = ?", [cohort]).fetchone()
        if row is None:
            raise NotFound(f"no cohort named {cohort!r}; see `worktally-aggregator cohort list`")
        roster = int(row[0])
        used = {int(r[0]) for r in con.execute(
            "SELECT slot FROM enrollment_slots WHERE cohort = ?", [cohort]).fetchall()}
        if slot is not None:
            if slot not in used:
                raise NotFound(f"slot {slot} of {cohort} was never issued; issue new slots "
                               "without --slot")
            con.execute("UPDATE slot_tokens SET superseded = true WHERE cohort = ? AND slot = ? "
                        "AND used_at IS NULL", [cohort, slot])
            slots = [slot]
        else:
            free = [s for s in range(1, roster + 1) if s not in used]
            if len(free) < count:
                raise Conflict(f"{cohort} has a roster of {roster} and {len(used)} slots "
                               f"issued; {len(free)} left. Reissue a person's slot with "
                               "--slot, or raise the roster with a new cohort")
            slots = free[:count]
            con.executemany("INSERT INTO enrollment_slots VALUES (?, ?, NULL)",
                            [(cohort, s) for s in slots])
        issued = [SlotToken(cohort, s, new_token(), expires) for s in slots]
        con.executemany("INSERT INTO slot_tokens VALUES (?, ?, ?, ?, ?, NULL, false)",
                        [(digest(t.token), cohort, t.slot, now, expires) for t in issued])
        audit(con, actor, "tokens-issue", cohort, None,
              f"slots={','.join(str(s) for s in slots)} expires={expires.date().isoformat()}"
              + (" reissue" if slot is not None else ""))
    return issued


def enroll(store: AggregatorStore, token: str, public_key: bytes) -> Enrollment:
    """Enroll a key with a slot token (or, in local mode, the cohort's token)."""
    if len(public_key) != 32:
        raise PolicyViolation("public_key must be a raw 32-byte Ed25519 key, base64-encoded")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise PolicyViolation("public_key is not a valid Ed25519 key") from exc
    with store.transaction() as con:
        slot_token = con.execute("SELECT cohort, slot, expires_at, used_at, superseded "
                                 "FROM slot_tokens WHERE token_sha256 = ?",
                                 [digest(token)]).fetchone()
        if slot_token is not None:
            return _enroll_slot(con, digest(token), slot_token, public_key)
        row = con.execute("SELECT c.name, c.roster_size, c.epsilon, c.delta, c.mechanism "
                          "FROM tokens t JOIN cohorts c ON c.name = t.cohort "
                          "WHERE t.token_sha256 = ? AND t.role = 'enroll'",
                          [digest(token)]).fetchone()
        if row is None:
            raise AuthError("unknown enrollment token; ask your admin for your own token")
        cohort = Cohort(*row)
        existing = con.execute("SELECT client_id, cohort FROM clients WHERE public_key = ?",
                               [public_key]).fetchone()
        if existing is not None:
            if existing[1] != cohort.name:
                raise PolicyViolation("this key is enrolled in another cohort; "
                                      "generate a new key to join this one")
            return Enrollment(existing[0], cohort)
        client_id = secrets.token_hex(16)
        con.execute("INSERT INTO clients VALUES (?, ?, ?, ?, NULL, NULL)",
                    [client_id, cohort.name, public_key, datetime.now(UTC)])
    return Enrollment(client_id, cohort)


def _enroll_slot(con: duckdb.DuckDBPyConnection, token_sha256: str, row: tuple[object, ...],
                 public_key: bytes) -> Enrollment:
    cohort_name, slot, expires_at, used_at, superseded = row
    assert isinstance(cohort_name, str) and isinstance(slot, int)
    now = datetime.now(UTC)
    if used_at is not None:
        raise Conflict("this enrollment token was already used; each token enrolls one key "
                       "once. Ask your admin to reissue your slot")
    if superseded:
        raise AuthError("this enrollment token was replaced by a newer one for the same "
                        "person; use the newest token your admin gave you")
    if isinstance(expires_at, datetime) and expires_at <= now:
        raise AuthError("this enrollment token has expired; ask your admin to reissue it")
    if con.execute("SELECT 1 FROM clients WHERE public_key = ?", [public_key]).fetchone():
        raise PolicyViolation("this key is already enrolled; generate a new key for a new "
                              "enrollment")
    found = con.execute("SELECT name, roster_size, epsilon, delta, mechanism FROM cohorts "
                        "WHERE name = ?", [cohort_name]).fetchone()
    if found is None:
        raise NotFound(f"cohort {cohort_name} no longer exists")
    cohort = Cohort(*found)
    client_id = secrets.token_hex(16)
    previous = con.execute("SELECT client_id FROM enrollment_slots WHERE cohort = ? AND "
                           "slot = ?", [cohort_name, slot]).fetchone()
    if previous is not None and previous[0] is not None:
        con.execute("UPDATE clients SET revoked_at = ? WHERE client_id = ?", [now, previous[0]])
    con.execute("INSERT INTO clients VALUES (?, ?, ?, ?, ?, NULL)",
                [client_id, cohort_name, public_key, now, slot])
    con.execute("UPDATE enrollment_slots SET client_id = ? WHERE cohort = ? AND slot = ?",
                [client_id, cohort_name, slot])
    con.execute("UPDATE slot_tokens SET used_at = ? WHERE token_sha256 = ?", [now, token_sha256])
    audit(con, "client", "enroll", cohort_name, None,
          f"slot={slot}" + (" replaces its previous key" if previous and previous[0] else ""))
    return Enrollment(client_id, cohort, slot)


def active_keys(store: AggregatorStore, cohort: str) -> int:
    """How many live (not revoked) keys a cohort has: never more than its roster with slots."""
    with store.transaction() as con:
        row = con.execute("SELECT count(*) FROM clients WHERE cohort = ? AND revoked_at IS NULL",
                          [cohort]).fetchone()
    return int(row[0]) if row else 0


def lookup_keys(store: AggregatorStore) -> dict[str, tuple[str, Ed25519PublicKey]]:
    """Every enrolled client's cohort and verifying key (for benchmarks and bulk checks)."""
    with store.transaction() as con:
        rows = con.execute("SELECT client_id, cohort, public_key FROM clients "
                           "WHERE revoked_at IS NULL").fetchall()
    return {cid: (cohort, Ed25519PublicKey.from_public_bytes(bytes(key)))
            for cid, cohort, key in rows}
