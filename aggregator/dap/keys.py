"""A secure-mode aggregator's role and HPKE keys: its own (clients seal input shares to it) and,
at the leader by default, the collector's (both aggregate shares are sealed to it).

Private keys are 0600 files in the data directory, never database rows, so a copied database
cannot open anything; the database lists the public configs `/hpke_config` serves.

The aggregator's own key rotates: a new one each calendar month (`KEY_WINDOW`; an
aggregator's key is shared by all its cohorts, as DAP's configs are per aggregator, and a
month is at least as short as a month or quarter cohort's window). `/hpke_config` lists the
current key first, then the older ones still kept, and clients seal to the first. A retired
key is kept until nothing sealed to it can still need opening, then its file and row are
deleted (`deletable`): every window a report sealed to it could be for is collected, or no
longer takes reports and (at the leader) holds no report waiting for aggregation; the helper,
which cannot see the leader's queue, waits `HELPER_GRACE` past that. The collector's key is
part of each task and does not rotate.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import duckdb

from worktally.aggregator import clock
from worktally.aggregator.audit_log import audit
from worktally.aggregator.errors import NotInitialised, WrongRole
from worktally.aggregator.report_windows import REPORT_WINDOWS_BACK, WINDOW_SKEW
from worktally.aggregator.settings import ROLES, DataDir
from worktally.aggregator.store import AggregatorStore
from worktally.client import paths
from worktally.client.wire.dap.hpke import HpkeKeyPair
from worktally.client.wire.dap.messages import HpkeConfig, HpkeConfigList
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.windows import Window, window_of

AGGREGATOR, COLLECTOR = "aggregator", "collector"
FIRST_CONFIG_ID = 1
KEY_WINDOW = "month"
# /hpke_config may be cached this long; an old key is accepted at least twice that after
# the next one takes over (DAP), which GRACE covers.
CONFIG_MAX_AGE_S = 3600
GRACE = dt.timedelta(days=1)
HELPER_GRACE = dt.timedelta(days=30)


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
            now = clock.now()
            con.execute("INSERT INTO hpke_keys (config_id, purpose, config, created_at, "
                        "key_window) VALUES (?, ?, ?, ?, ?)",
                        [FIRST_CONFIG_ID, purpose, pair.config.encode(), now,
                         window_of(KEY_WINDOW, now).label])
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
            "SELECT config_id FROM hpke_keys WHERE purpose = ? ORDER BY created_at DESC, "
            "config_id DESC", [purpose]).fetchall()]
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


class KeyRing:
    """The aggregator's own key pairs as the server uses them, newest first; `reload` after
    a rotation swaps them in for every route and the driver at once."""

    def __init__(self, store: AggregatorStore, data: DataDir) -> None:
        self.store, self.data = store, data
        self._lock = threading.Lock()
        self._pairs = load_keys(store, data, AGGREGATOR)

    def pairs(self) -> dict[int, HpkeKeyPair]:
        with self._lock:
            return dict(self._pairs)

    def ids(self) -> set[int]:
        return set(self.pairs())

    def config_list(self) -> HpkeConfigList:
        return config_list(self.pairs())

    def reload(self) -> None:
        pairs = load_keys(self.store, self.data, AGGREGATOR)
        with self._lock:
            self._pairs = pairs


@dataclass(frozen=True)
class Rotation:
    made: int | None  # the new key's config id
    deleted: tuple[int, ...]


def rotate(store: AggregatorStore, data: DataDir, now: dt.datetime | None = None) -> Rotation:
    """Make this month's key if the current one is older, and delete retired keys nothing
    can still need. Safe to call at any time, from any thread (one transaction)."""
    now = now or clock.now()
    role = stored_role(store)
    month = window_of(KEY_WINDOW, now)
    made = None
    with store.transaction() as con:
        rows = con.execute("SELECT config_id, created_at, key_window, retired_at FROM hpke_keys "
                           "WHERE purpose = ? ORDER BY created_at DESC",
                           [AGGREGATOR]).fetchall()
        current = next((r for r in rows if r[3] is None), None)
        stale = current is None or window_of(KEY_WINDOW, current[1]).start < month.start
        if stale:
            used = {int(r[0]) for r in rows}
            free = next((i for i in range(FIRST_CONFIG_ID, 256) if i not in used), None)
            if free is not None:  # 255 kept keys would mean deletion is stuck: keep serving
                pair = HpkeKeyPair.generate(free)
                paths.write_private(data.hpke_key(AGGREGATOR, free), pair.private_bytes())
                con.execute("INSERT INTO hpke_keys (config_id, purpose, config, created_at, "
                            "key_window) VALUES (?, ?, ?, ?, ?)",
                            [free, AGGREGATOR, pair.config.encode(), now, month.label])
                con.execute("UPDATE hpke_keys SET retired_at = ? WHERE purpose = ? AND "
                            "retired_at IS NULL AND config_id <> ?", [now, AGGREGATOR, free])
                audit(con, "rotation", "hpke-key-new", None, month.label,
                      f"config {free} current; {len(rows)} older key(s) kept")
                made = free
        deleted = []
        for config_id, created, _, retired in con.execute(
                "SELECT config_id, created_at, key_window, retired_at FROM hpke_keys WHERE "
                "purpose = ? AND retired_at IS NOT NULL", [AGGREGATOR]).fetchall():
            if deletable(con, role, created, retired, now):
                con.execute("DELETE FROM hpke_keys WHERE purpose = ? AND config_id = ?",
                            [AGGREGATOR, config_id])
                audit(con, "rotation", "hpke-key-delete", None, None,
                      f"config {config_id}: every batch that could hold a report sealed to "
                      "it is closed")
                deleted.append(int(config_id))
    for config_id in deleted:  # committed: now the private key itself
        data.hpke_key(AGGREGATOR, config_id).unlink(missing_ok=True)
    if deleted:
        store.checkpoint()
    return Rotation(made, tuple(deleted))


def covered_windows(kind: str, created: dt.datetime, retired: dt.datetime) -> list[Window]:
    """The windows of `kind` a report sealed to a key current from `created` until `retired`
    could be for: any window taking reports while the key was listed (plus GRACE, for
    clients' cached configs)."""
    first = window_of(kind, created).previous(REPORT_WINDOWS_BACK)
    last = window_of(kind, retired + GRACE + WINDOW_SKEW)
    out, window = [], first
    while window.start <= last.start:
        out.append(window)
        window = window.previous(-1)
    return out


def closed_to_reports_at(window: Window) -> dt.datetime:
    """When a window stops taking reports (`report_windows.takes_reports`)."""
    return window.previous(-(REPORT_WINDOWS_BACK + 1)).start


def deletable(con: duckdb.DuckDBPyConnection, role: str, created: dt.datetime,
              retired: dt.datetime, now: dt.datetime) -> bool:
    """Whether nothing sealed to a key retired at `retired` can still need opening here."""
    if now < retired + GRACE:
        return False
    for task_id, config in con.execute("SELECT task_id, config FROM dap_tasks").fetchall():
        kind = TaskConfig.decode(bytes(config)).window_kind
        for window in covered_windows(kind, created, retired):
            if _collected(con, bytes(task_id), window.label):
                continue
            closes = closed_to_reports_at(window)
            if role == "leader":
                pending = con.execute("SELECT 1 FROM dap_pending WHERE task_id = ? AND "
                                      "window_label = ? LIMIT 1",
                                      [task_id, window.label]).fetchone()
                if now < closes or pending is not None:
                    return False
            elif now < closes + HELPER_GRACE:
                return False
    return True


def _collected(con: duckdb.DuckDBPyConnection, task_id: bytes, window: str) -> bool:
    row = con.execute("SELECT collected FROM dap_batches WHERE task_id = ? AND "
                      "window_label = ?", [task_id, window]).fetchone()
    return bool(row and row[0])
