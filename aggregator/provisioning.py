"""Setting up a deployment: the X25519 key pair, role tokens, cohorts and their enrollment tokens.

Tokens are shown once and only their SHA-256 digests are stored, so a copied database does not
grant access.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from worktally.aggregator.dap.keys import AGGREGATOR, COLLECTOR, create_keys
from worktally.aggregator.errors import (
    AggregatorError,
    AuthError,
    Conflict,
    NotInitialised,
    WrongRole,
)
from worktally.aggregator.settings import (
    DEFAULT_DELTA,
    DEFAULT_EPSILON,
    DEFAULT_MECHANISM,
    DataDir,
    ReleasePolicy,
)
from worktally.aggregator.settings import ROLES as SERVER_ROLES
from worktally.aggregator.store import AggregatorStore
from worktally.client import paths
from worktally.client.wire.dap.messages import HpkeConfig
from worktally.client.wire.schema import noise_parameters

ROLES = ("admin", "officer")
COHORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Deployment:
    """What `init` prints once: the role tokens and the public keys (local mode's X25519 key,
    at a leader; the secure-mode HPKE configs)."""

    admin_token: str
    officer_token: str
    public_key: bytes
    role: str = "leader"
    hpke_config: HpkeConfig | None = None
    collector_config: HpkeConfig | None = None


@dataclass(frozen=True)
class Cohort:
    name: str
    roster_size: int
    epsilon: float
    delta: float
    mechanism: str


def new_token() -> str:
    """A 256-bit bearer or enrollment token in hex: people paste these on command lines, and
    base64url's '-' could start one and be read as an option (`worktally enroll URL -4V...`)."""
    return secrets.token_hex(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def init_data_dir(data: DataDir, policy: ReleasePolicy, role: str = "leader") -> Deployment:
    """Create a new deployment in an empty or missing directory.

    A leader also serves local-mode cohorts, so it gets local mode's X25519 key too; a
    helper only has its HPKE key.
    """
    if data.private_key.exists() or data.database.exists():
        raise Conflict(f"{data.root.name} already holds an aggregator; use a new --data dir")
    if policy.k_min < 2 or policy.min_contributors < 1:
        raise AggregatorError("k must be at least 2 and min-contributors at least 1")
    if role not in SERVER_ROLES:
        raise AggregatorError(f"--role must be one of {', '.join(SERVER_ROLES)}")
    paths.ensure_private_dir(data.root)
    public = b""
    if role == "leader":
        key = X25519PrivateKey.generate()
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        paths.write_private(data.private_key, raw)
        public = public_key_bytes(key)
    tokens = {role: new_token() for role in ROLES}
    store = AggregatorStore(data.database)
    try:
        configs = create_keys(store, data, role)
        with store.transaction() as con:
            con.executemany("INSERT INTO settings VALUES (?, ?)", [
                ("k_min", str(policy.k_min)),
                ("min_contributors", str(policy.min_contributors)),
            ])
            for role, token in tokens.items():
                con.execute("INSERT INTO tokens VALUES (?, ?, NULL, ?)",
                            [digest(token), role, _now()])
    finally:
        store.close()
    return Deployment(tokens["admin"], tokens["officer"], public, role,
                      configs.get(AGGREGATOR), configs.get(COLLECTOR))


def load_private_key(data: DataDir) -> X25519PrivateKey:
    try:
        raw = data.private_key.read_bytes()
    except FileNotFoundError as exc:
        raise NotInitialised(
            f"no aggregator key in {data.root.name}; run `worktally-aggregator init` first"
        ) from exc
    return X25519PrivateKey.from_private_bytes(raw)


def open_store(data: DataDir) -> AggregatorStore:
    if not data.database.exists():
        raise NotInitialised(
            f"no aggregator in {data.root.name}; run `worktally-aggregator init --data DIR`"
        )
    return AggregatorStore(data.database)


def public_key_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def add_cohort(store: AggregatorStore, name: str, roster_size: int,
               epsilon: float = DEFAULT_EPSILON, delta: float = DEFAULT_DELTA,
               mechanism: str = DEFAULT_MECHANISM) -> str:
    """Register a cohort with its public roster size and DP policy; return its enrollment token."""
    if not COHORT_NAME.fullmatch(name):
        raise AggregatorError("a cohort name is 1-64 letters, digits, '.', '_' or '-'")
    if roster_size < 1:
        raise AggregatorError("--roster must be the number of people in the team (>= 1)")
    if not 0 <= delta < 1:
        raise AggregatorError("delta must be in [0, 1)")
    try:
        noise_parameters(epsilon, delta, mechanism)
    except ValueError as exc:
        raise AggregatorError(f"invalid DP policy: {exc}") from exc
    token = new_token()
    with store.transaction() as con:
        if con.execute("SELECT 1 FROM cohorts WHERE name = ?", [name]).fetchone():
            raise Conflict(f"cohort {name} already exists")
        con.execute("INSERT INTO cohorts VALUES (?, ?, ?, ?, ?, ?)",
                    [name, roster_size, epsilon, delta, mechanism, _now()])
        con.execute("INSERT INTO tokens VALUES (?, 'enroll', ?, ?)", [digest(token), name, _now()])
        con.execute("INSERT INTO audit_log VALUES (?, 'admin', 'cohort-add', ?, NULL, ?)",
                    [_now(), name, f"roster={roster_size} epsilon={epsilon} delta={delta} "
                                   f"mechanism={mechanism}"])
    return token


def list_cohorts(store: AggregatorStore) -> list[Cohort]:
    with store.transaction() as con:
        rows = con.execute("SELECT name, roster_size, epsilon, delta, mechanism FROM cohorts "
                           "ORDER BY name").fetchall()
    return [Cohort(*row) for row in rows]


def check_token(store: AggregatorStore, token: str | None, role: str) -> None:
    """Raise AuthError for a missing or unknown token, WrongRole for another role's token."""
    if not token:
        raise AuthError(f"this endpoint needs the {role} bearer token")
    with store.transaction() as con:
        row = con.execute("SELECT role FROM tokens WHERE token_sha256 = ? AND role IN "
                          "('admin', 'officer')", [digest(token)]).fetchone()
    if row is None:
        raise AuthError("unknown token; use the one `worktally-aggregator init` printed")
    if not hmac.compare_digest(row[0], role):
        raise WrongRole(f"this endpoint needs the {role} token, not the {row[0]} token")


def _now() -> datetime:
    return datetime.now(UTC)
