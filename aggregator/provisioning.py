"""Setting up a deployment: the X25519 key pair, role tokens, and local-mode cohorts.

Tokens are shown once and only their SHA-256 digests are stored, so a copied database does not
grant access. People's enrollment tokens are per roster slot (`enrollment.issue_tokens`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import duckdb
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from worktally.aggregator import clock
from worktally.aggregator.dap.keys import AGGREGATOR, COLLECTOR, create_keys
from worktally.aggregator.errors import (
    AggregatorError,
    Conflict,
    NotInitialised,
)
from worktally.aggregator.settings import (
    DEFAULT_EPSILON,
    DEFAULT_WINDOW,
    DELTA,
    MECHANISM,
    MIN_EPSILON,
    DataDir,
    ReleasePolicy,
)
from worktally.aggregator.settings import ROLES as SERVER_ROLES
from worktally.aggregator.store import AggregatorStore
from worktally.client import paths
from worktally.client.wire.dap.messages import HpkeConfig
from worktally.client.wire.dap.task import MAX_EPSILON, TaskConfig
from worktally.client.wire.errors import WireError
from worktally.client.wire.measurement import coordinates
from worktally.client.wire.windows import window_kind

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
    """A team and its policy, the same shape in both modes: ε per release of each `window`,
    δ (0), the mechanism, and k (a release needs k <= contributors <= roster)."""

    name: str
    roster_size: int
    epsilon: float
    delta: float
    mechanism: str
    window: str
    k_min: int
    mode: str  # local or secure
    retired: bool = False


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
    paths.ensure_private_dir(data.root, owned=True)
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
                            [digest(token), role, clock.now()])
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
               window: str = DEFAULT_WINDOW, epsilon: float = DEFAULT_EPSILON,
               k_min: int | None = None, actor: str = "admin") -> Cohort:
    """Register a local-mode cohort: its public roster size and its policy (δ = 0, discrete
    Laplace; k defaults to the deployment's). Its people enroll with per-slot tokens
    (`enrollment.issue_tokens`)."""
    if not COHORT_NAME.fullmatch(name):
        raise AggregatorError("a cohort name is 1-64 letters, digits, '.', '_' or '-'")
    if roster_size < 1:
        raise AggregatorError("--roster must be the number of people in the team (>= 1)")
    if not epsilon >= MIN_EPSILON:
        raise AggregatorError(f"ε per release must be at least {MIN_EPSILON}")
    try:
        kind = window_kind(window).value
        coordinates(epsilon)
    except WireError as exc:
        raise AggregatorError(f"invalid policy: {exc}") from exc
    if epsilon > MAX_EPSILON:
        raise AggregatorError(f"ε per release must be at most {MAX_EPSILON}")
    k = store.policy().k_min if k_min is None else k_min
    if k < 2:
        raise AggregatorError("k must be at least 2")
    now = clock.now()
    with store.transaction() as con:
        if con.execute("SELECT 1 FROM cohorts WHERE name = ?", [name]).fetchone():
            raise Conflict(f"cohort {name} already exists")
        con.execute("INSERT INTO cohorts (name, roster_size, epsilon, delta, mechanism, "
                    "created_at, window_kind, k_min) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [name, roster_size, epsilon, DELTA, MECHANISM, now, kind, k])
        con.execute("INSERT INTO audit_log VALUES (?, ?, 'cohort-add', ?, NULL, ?)",
                    [now, actor, name, f"local roster={roster_size} window={kind} "
                                       f"epsilon={epsilon} k={k}"])
    return Cohort(name, roster_size, epsilon, DELTA, MECHANISM, kind, k, "local")


def list_cohorts(store: AggregatorStore) -> list[Cohort]:
    """Every cohort with its policy; a secure cohort's comes from its task config."""
    with store.transaction() as con:
        rows = con.execute("SELECT c.name, c.roster_size, c.epsilon, c.delta, c.mechanism, "
                           "c.window_kind, c.k_min, t.config, c.retired_at FROM cohorts c "
                           "LEFT JOIN dap_tasks t ON t.cohort = c.name ORDER BY c.name"
                           ).fetchall()
    return [_cohort(row) for row in rows]


def find_cohort(con: duckdb.DuckDBPyConnection, name: str) -> Cohort | None:
    row = con.execute("SELECT c.name, c.roster_size, c.epsilon, c.delta, c.mechanism, "
                      "c.window_kind, c.k_min, t.config, c.retired_at FROM cohorts c LEFT JOIN "
                      "dap_tasks t ON t.cohort = c.name WHERE c.name = ?", [name]).fetchone()
    return _cohort(row) if row else None


def _cohort(row: tuple[Any, ...]) -> Cohort:
    name, roster, epsilon, delta, mechanism, window, k_min, config, retired_at = row
    retired = retired_at is not None
    if config is None:
        return Cohort(name, roster, epsilon, delta, mechanism, window, k_min, "local", retired)
    task = TaskConfig.decode(bytes(config))
    # The roster is the leader's (cohorts.roster_size), not the task's.
    return Cohort(name, roster, task.epsilon_release, 0.0, mechanism, task.window_kind,
                  task.k_min, "secure", retired)
