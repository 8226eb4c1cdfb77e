"""A secure-mode aggregator's role and HPKE keys: its own (clients seal input shares to it) and,
at the leader by default, the collector's (both aggregate shares are sealed to it).

Private keys are 0600 files in the data directory, never database rows, so a copied database
cannot open anything; the database lists the public configs `/hpke_config` serves.
"""

from __future__ import annotations

from datetime import UTC, datetime

from worktally.aggregator.errors import NotInitialised, WrongRole
from worktally.aggregator.settings import ROLES, DataDir
from worktally.aggregator.store import AggregatorStore
from worktally.client import paths
from worktally.client.wire.dap.hpke import HpkeKeyPair
from worktally.client.wire.dap.messages import HpkeConfig, HpkeConfigList

AGGREGATOR, COLLECTOR = "aggregator", "collector"
FIRST_CONFIG_ID = 1


def create_keys(store: AggregatorStore, data: DataDir, role: str) -> dict[str, HpkeConfig]:
    """Record the role and make its key pairs: every role has an aggregator key; the leader
    also holds the collector's (the default deployment: the org collects)."""
    if role not in ROLES:
        raise WrongRole(f"role must be one of {', '.join(ROLES)}")
    purposes = [AGGREGATOR] + ([COLLECTOR] if role == "leader" else [])
    made = {}
    with store.transaction() as con:
        con.execute("INSERT INTO settings VALUES ('role', ?)", [role])
        for purpose in purposes:
            pair = HpkeKeyPair.generate(FIRST_CONFIG_ID)
            paths.write_private(data.hpke_key(purpose, FIRST_CONFIG_ID), pair.private_bytes())
            con.execute("INSERT INTO hpke_keys VALUES (?, ?, ?, ?)",
                        [FIRST_CONFIG_ID, purpose, pair.config.encode(), datetime.now(UTC)])
            made[purpose] = pair.config
    return made


def stored_role(store: AggregatorStore) -> str:
    """The role chosen at init; a data directory from before roles existed is a leader."""
    with store.transaction() as con:
        row = con.execute("SELECT value FROM settings WHERE key = 'role'").fetchone()
    return str(row[0]) if row else "leader"


def check_role(store: AggregatorStore, wanted: str | None) -> str:
    role = stored_role(store)
    if wanted is not None and wanted != role:
        raise WrongRole(f"this data directory was initialised as the {role}, not the {wanted}; "
                        f"run `serve --role {role}` or use another --data dir")
    return role


def load_keys(store: AggregatorStore, data: DataDir, purpose: str) -> dict[int, HpkeKeyPair]:
    """Every key pair of one purpose, by config id (several while a key is rotated)."""
    with store.transaction() as con:
        ids = [int(r[0]) for r in con.execute(
            "SELECT config_id FROM hpke_keys WHERE purpose = ? ORDER BY created_at DESC",
            [purpose]).fetchall()]
    keys = {}
    for config_id in ids:
        try:
            raw = data.hpke_key(purpose, config_id).read_bytes()
        except FileNotFoundError as exc:
            raise NotInitialised(f"the {purpose} HPKE key {config_id} is missing from "
                                 f"{data.root.name}; restore it from a backup") from exc
        keys[config_id] = HpkeKeyPair.from_private_bytes(config_id, raw)
    return keys


def config_list(keys: dict[int, HpkeKeyPair]) -> HpkeConfigList:
    """The public configs, newest (preferred) first, as `/hpke_config` serves them."""
    return HpkeConfigList(tuple(pair.config for pair in keys.values()))
