"""Enrollment: a client trades a token and an Ed25519 public key for a client id; and the
admin's side of it: tokens issued, listed, re-dated and revoked, keys counted and revoked.

"k means k people": a cohort has `roster` slots. The admin issues one-use, expiring tokens,
each bound to a slot, up to the roster; enrolling consumes the token and binds the key to the
slot. A reissued token for a slot replaces that slot's key (the old one is revoked), so a
cohort never holds more live keys than its roster. Only SHA-256 digests of tokens are stored.
Both modes enroll this way; there is no cohort-wide token. Every issue, enrollment and
revocation is in the audit log with who did it.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from worktally.aggregator import clock
from worktally.aggregator.audit_log import audit
from worktally.aggregator.errors import (
    AuthError,
    Conflict,
    Forbidden,
    NotFound,
    PolicyViolation,
)
from worktally.aggregator.provisioning import Cohort, digest, find_cohort, new_token
from worktally.aggregator.store import AggregatorStore

DEFAULT_TOKEN_DAYS = 14
MAX_TOKEN_DAYS = 90

# Why a key no longer reports (clients.revoke_reason), as the reason code and the sentence
# the client is sent.
REVOKED = {
    "replaced": ("key_replaced", "this key was replaced: the same roster slot was enrolled "
                                 "again with a newer token"),
    "admin": ("key_revoked", "an admin revoked this key"),
    "retired": ("cohort_retired", "this key's cohort was retired; it takes no more reports"),
    "migration": ("key_revoked", "this key was enrolled with a retired cohort-wide token"),
}


def refuse_revoked(reason: str | None) -> None:
    """Refuse a revoked key's report, saying why (the client turns the code into advice)."""
    code, text = REVOKED.get(reason or "admin", REVOKED["admin"])
    raise Forbidden(text, code)


@dataclass(frozen=True)
class Enrollment:
    client_id: str
    cohort: Cohort
    slot: int


@dataclass(frozen=True)
class SlotToken:
    """A token as issued (shown once): the slot it fills and when it stops working."""

    cohort: str
    slot: int
    token: str
    expires_at: datetime


def _live_cohort(con: duckdb.DuckDBPyConnection, cohort: str) -> int:
    """The roster of a cohort that exists and is not retired."""
    row = con.execute("SELECT roster_size, retired_at FROM cohorts WHERE name = ?",
                      [cohort]).fetchone()
    if row is None:
        raise NotFound(f"no cohort named {cohort!r}; see `worktally-aggregator cohort list`")
    if row[1] is not None:
        raise Conflict(f"{cohort} was retired; it takes no new tokens, people or reports")
    return int(row[0])


def issue_tokens(store: AggregatorStore, cohort: str, count: int = 1, slot: int | None = None,
                 days: int = DEFAULT_TOKEN_DAYS, actor: str = "admin") -> list[SlotToken]:
    """New slots' tokens (up to the roster), or, with `slot`, a replacement for that slot."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise PolicyViolation(f"a token expires after 1 to {MAX_TOKEN_DAYS} days")
    if slot is not None and count != 1:
        raise PolicyViolation("reissue one slot at a time (--slot with --count 1)")
    if count < 1:
        raise PolicyViolation("--count must be at least 1")
    now = clock.now()
    expires = now + timedelta(days=days)
    with store.transaction() as con:
        roster = _live_cohort(con, cohort)
        used = {int(r[0]) for r in con.execute(
            "SELECT slot FROM enrollment_slots WHERE cohort = ?", [cohort]).fetchall()}
        if slot is not None:
            if slot not in used:
                raise NotFound(f"slot {slot} of {cohort} was never issued; issue new slots "
                               "without --slot")
            if slot > roster:
                raise Conflict(f"slot {slot} is over {cohort}'s roster of {roster}; give this "
                               "person a free slot within the roster instead (`tokens issue "
                               f"{cohort}`), or raise the roster")
            con.execute("UPDATE slot_tokens SET superseded = true WHERE cohort = ? AND slot = ? "
                        "AND used_at IS NULL", [cohort, slot])
            slots = [slot]
        else:
            free = [s for s in range(1, roster + 1) if s not in used]
            if len(free) < count:
                raise Conflict(f"{cohort} has a roster of {roster} and {len(used)} slots "
                               f"issued; {len(free)} left. Reissue a person's slot with "
                               "--slot, or raise the roster (`cohort roster`)")
            slots = free[:count]
            con.executemany("INSERT INTO enrollment_slots VALUES (?, ?, NULL)",
                            [(cohort, s) for s in slots])
        issued = [SlotToken(cohort, s, new_token(), expires) for s in slots]
        con.executemany("INSERT INTO slot_tokens (token_sha256, cohort, slot, issued_at, "
                        "expires_at, used_at, superseded) VALUES (?, ?, ?, ?, ?, NULL, false)",
                        [(digest(t.token), cohort, t.slot, now, expires) for t in issued])
        audit(con, actor, "tokens-issue", cohort, None,
              f"slots={_ranges(slots)} expires={expires.date().isoformat()}"
              + (" reissue" if slot is not None else ""))
    return issued


def enroll(store: AggregatorStore, token: str, public_key: bytes) -> Enrollment:
    """Enroll a key with a slot token: the token is used up and the key fills its slot."""
    if len(public_key) != 32:
        raise PolicyViolation("public_key must be a raw 32-byte Ed25519 key, base64-encoded")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise PolicyViolation("public_key is not a valid Ed25519 key") from exc
    with store.transaction() as con:
        row = con.execute("SELECT cohort, slot, expires_at, used_at, superseded, revoked_at "
                          "FROM slot_tokens WHERE token_sha256 = ?", [digest(token)]).fetchone()
        if row is None:
            raise AuthError("unknown enrollment token; ask your admin for your own token")
        return _enroll_slot(con, digest(token), row, public_key)


def _enroll_slot(con: duckdb.DuckDBPyConnection, token_sha256: str, row: tuple[object, ...],
                 public_key: bytes) -> Enrollment:
    cohort_name, slot, expires_at, used_at, superseded, revoked_at = row
    assert isinstance(cohort_name, str) and isinstance(slot, int)
    now = clock.now()
    if used_at is not None:
        raise Conflict("this enrollment token was already used; each token enrolls one key "
                       "once. Ask your admin to reissue your slot")
    if superseded:
        raise AuthError("this enrollment token was replaced by a newer one for the same "
                        "person; use the newest token your admin gave you")
    if revoked_at is not None:
        raise AuthError("this enrollment token was revoked by an admin; ask them for a new "
                        "one")
    if isinstance(expires_at, datetime) and expires_at <= now:
        raise AuthError("this enrollment token has expired; ask your admin to reissue it")
    if con.execute("SELECT 1 FROM clients WHERE public_key = ?", [public_key]).fetchone():
        raise PolicyViolation("this key is already enrolled; generate a new key for a new "
                              "enrollment")
    cohort = find_cohort(con, cohort_name)
    if cohort is None:
        raise NotFound(f"cohort {cohort_name} no longer exists")
    if cohort.retired:
        raise Conflict(f"cohort {cohort_name} was retired; ask your admin which cohort to join")
    if slot > cohort.roster_size:
        raise Conflict(f"this token's slot {slot} is over {cohort_name}'s roster of "
                       f"{cohort.roster_size} now; ask your admin for a token within it")
    client_id = secrets.token_hex(16)
    previous = con.execute("SELECT client_id FROM enrollment_slots WHERE cohort = ? AND "
                           "slot = ?", [cohort_name, slot]).fetchone()
    actor = f"client (slot {slot}'s enrollment token)"
    if previous is not None and previous[0] is not None:
        replaced = con.execute("UPDATE clients SET revoked_at = ?, revoke_reason = 'replaced' "
                               "WHERE client_id = ? AND revoked_at IS NULL RETURNING client_id",
                               [now, previous[0]]).fetchall()
        if replaced:
            audit(con, actor, "client-revoke", cohort_name, None,
                  f"slot={slot} key replaced by a new enrollment")
    con.execute("INSERT INTO clients (client_id, cohort, public_key, enrolled_at, slot) "
                "VALUES (?, ?, ?, ?, ?)", [client_id, cohort_name, public_key, now, slot])
    con.execute("UPDATE enrollment_slots SET client_id = ? WHERE cohort = ? AND slot = ?",
                [client_id, cohort_name, slot])
    con.execute("UPDATE slot_tokens SET used_at = ? WHERE token_sha256 = ?", [now, token_sha256])
    audit(con, actor, "enroll", cohort_name, None, f"slot={slot}")
    return Enrollment(client_id, cohort, slot)


def active_keys(store: AggregatorStore, cohort: str) -> int:
    """How many live (not revoked) keys a cohort has: never more than its roster with slots."""
    with store.transaction() as con:
        row = con.execute("SELECT count(*) FROM clients WHERE cohort = ? AND revoked_at IS NULL",
                          [cohort]).fetchone()
    return int(row[0]) if row else 0


# --- the admin's view and changes ---------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    """An issued token as the admin sees it later: never the token, only its slot, dates,
    state (unused, used, expired, revoked, replaced) and the first characters of its digest."""

    cohort: str
    slot: int
    token_id: str
    issued_at: str
    expires_at: str
    state: str
    used_at: str | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def list_tokens(store: AggregatorStore, cohort: str | None = None) -> list[TokenInfo]:
    now = clock.now()
    with store.transaction() as con:
        rows = con.execute("SELECT cohort, slot, token_sha256, issued_at, expires_at, used_at, "
                           "superseded, revoked_at FROM slot_tokens WHERE (? IS NULL OR "
                           "cohort = ?) ORDER BY cohort, slot, issued_at",
                           [cohort, cohort]).fetchall()
    out = []
    for name, slot, sha, issued, expires, used, superseded, revoked in rows:
        state = ("used" if used is not None else "revoked" if revoked is not None
                 else "replaced" if superseded else "expired" if expires <= now else "unused")
        out.append(TokenInfo(name, int(slot), sha[:8], issued.isoformat(), expires.isoformat(),
                             state, used.isoformat() if used is not None else None))
    return out


_OPEN_TOKEN = ("used_at IS NULL AND NOT superseded AND revoked_at IS NULL")


def set_token_expiry(store: AggregatorStore, cohort: str, slot: int, days: int,
                     actor: str) -> TokenInfo:
    """Re-date a slot's unused token: `days` from now (0: it expires now)."""
    if not 0 <= days <= MAX_TOKEN_DAYS:
        raise PolicyViolation(f"a token expires 0 to {MAX_TOKEN_DAYS} days from now")
    expires = clock.now() + timedelta(days=days)
    with store.transaction() as con:
        _live_cohort(con, cohort)
        changed = con.execute(f"UPDATE slot_tokens SET expires_at = ? WHERE cohort = ? AND "
                              f"slot = ? AND {_OPEN_TOKEN} RETURNING token_sha256",
                              [expires, cohort, slot]).fetchall()
        if not changed:
            raise NotFound(f"slot {slot} of {cohort} has no unused token; issue one with "
                           f"`tokens issue {cohort} --slot {slot}`")
        audit(con, actor, "token-expiry", cohort, None,
              f"slot={slot} expires={expires.isoformat(timespec='minutes')}")
    (info,) = [t for t in list_tokens(store, cohort) if t.token_id == changed[0][0][:8]]
    return info


def revoke_tokens(store: AggregatorStore, cohort: str, slot: int | None, actor: str) -> int:
    """Revoke a slot's unused token, or (no slot) every unused token of the cohort."""
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM cohorts WHERE name = ?", [cohort]).fetchone():
            raise NotFound(f"no cohort named {cohort!r}")
        revoked = con.execute(f"UPDATE slot_tokens SET revoked_at = ? WHERE cohort = ? AND "
                              f"(? IS NULL OR slot = ?) AND {_OPEN_TOKEN} RETURNING slot",
                              [clock.now(), cohort, slot, slot]).fetchall()
        if slot is not None and not revoked:
            raise NotFound(f"slot {slot} of {cohort} has no unused token to revoke")
        if revoked:
            audit(con, actor, "token-revoke", cohort, None,
                  f"slots={_ranges(sorted(int(r[0]) for r in revoked))}")
    return len(revoked)


def client_counts(store: AggregatorStore, cohort: str | None = None) -> list[dict[str, object]]:
    """Per cohort: roster, slots issued, live and revoked keys, live keys over the roster and
    unused tokens (counts only: which slot is whose is the admin's own list)."""
    now = clock.now()
    with store.transaction() as con:
        rows = con.execute(
            "SELECT c.name, c.roster_size, c.retired_at IS NOT NULL, "
            "(SELECT count(*) FROM enrollment_slots s WHERE s.cohort = c.name), "
            "(SELECT count(*) FROM clients k WHERE k.cohort = c.name AND k.revoked_at IS NULL "
            " AND k.slot IS NOT NULL), "
            "(SELECT count(*) FROM clients k WHERE k.cohort = c.name AND k.revoked_at IS NOT "
            " NULL), "
            "(SELECT count(*) FROM clients k WHERE k.cohort = c.name AND k.revoked_at IS NULL "
            " AND k.slot > c.roster_size), "
            f"(SELECT count(*) FROM slot_tokens t WHERE t.cohort = c.name AND {_OPEN_TOKEN} "
            " AND t.expires_at > ?) "
            "FROM cohorts c WHERE (? IS NULL OR c.name = ?) ORDER BY c.name",
            [now, cohort, cohort]).fetchall()
    if cohort is not None and not rows:
        raise NotFound(f"no cohort named {cohort!r}")
    keys = ("cohort", "roster", "retired", "slots_issued", "live_keys", "revoked_keys",
            "live_keys_over_roster", "unused_tokens")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def revoke_client(store: AggregatorStore, cohort: str, slot: int, actor: str) -> str:
    """Revoke the live key of a cohort's roster slot; its reports are refused from now on
    (reissue the slot's token to let the person enroll again). Returns the client id."""
    with store.transaction() as con:
        row = con.execute("SELECT client_id FROM clients WHERE cohort = ? AND slot = ? AND "
                          "revoked_at IS NULL", [cohort, slot]).fetchone()
        if row is None:
            raise NotFound(f"slot {slot} of {cohort} has no live key")
        con.execute("UPDATE clients SET revoked_at = ?, revoke_reason = 'admin' WHERE "
                    "client_id = ?", [clock.now(), row[0]])
        audit(con, actor, "client-revoke", cohort, None, f"slot={slot} by an admin")
    return str(row[0])


def _ranges(slots: list[int]) -> str:
    """1,2,3,5 -> 1-3,5: an audit line for 500 slots stays readable."""
    out: list[str] = []
    for s in slots:
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) == s - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{s}"
        elif out and "-" not in out[-1] and int(out[-1]) == s - 1:
            out[-1] = f"{out[-1]}-{s}"
        else:
            out.append(str(s))
    return ",".join(out)
