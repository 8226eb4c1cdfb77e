"""Migration 3 (local mode on schema 2) on a database a schema-1 deployment left behind."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from worktally.aggregator.migrations import MIGRATIONS
from worktally.aggregator.provisioning import digest, list_cohorts
from worktally.aggregator.store import AggregatorStore

NOW = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


def _schema_1_deployment(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, sql in MIGRATIONS[:2]:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
        con.execute("INSERT INTO settings VALUES ('k_min', '7'), ('min_contributors', '3')")
        con.execute("INSERT INTO cohorts VALUES ('web', 12, 8.0, 0.0, 'discrete_laplace', ?)",
                    [NOW])
        con.execute("INSERT INTO tokens VALUES (?, 'enroll', 'web', ?)", [digest("t" * 64), NOW])
        con.execute("INSERT INTO tokens VALUES (?, 'admin', NULL, ?)", [digest("a" * 64), NOW])
        for i, slot in enumerate((None, None, 3)):
            con.execute("INSERT INTO clients VALUES (?, 'web', ?, ?, ?, NULL)",
                        [f"client-{i}", bytes([i]) * 32, NOW, slot])
        con.execute("INSERT INTO sums VALUES ('web', '2026-W44', 'ai_committed_share_pm', 900)")
        con.execute("INSERT INTO contributions VALUES ('web', '2026-W44', 2)")
    finally:
        con.close()


def test_schema_1_cohorts_get_a_policy_and_lose_what_schema_2_cannot_use(tmp_path: Path) -> None:
    path = tmp_path / "aggregator.duckdb"
    _schema_1_deployment(path)
    store = AggregatorStore(path)
    try:
        (web,) = list_cohorts(store)
        assert (web.mode, web.window, web.k_min, web.epsilon) == ("local", "week", 7, 8.0)
        with store.transaction() as con:
            roles = sorted(r for (r,) in con.execute("SELECT role FROM tokens").fetchall())
            live = [c for (c,) in con.execute("SELECT client_id FROM clients WHERE "
                                              "revoked_at IS NULL").fetchall()]
            audited = con.execute("SELECT count(*) FROM audit_log WHERE actor = 'migration' "
                                  "AND action = 'revoke'").fetchone()
            sums = con.execute("SELECT count(*) FROM sums").fetchone()
            counts = con.execute("SELECT count(*) FROM contributions").fetchone()
            version = con.execute("SELECT max(version) FROM schema_version").fetchone()
        assert roles == ["admin"], "the cohort-wide enrollment token is gone"
        assert live == ["client-2"], "keys without a roster slot are revoked"
        assert audited == (2,)
        assert sums == (0,) and counts == (0,)
        assert version == (len(MIGRATIONS),)
    finally:
        store.close()
