"""Migrations: ordered, each applied exactly once, and a reopened database stays migrated."""

from __future__ import annotations

import duckdb
import pytest

from worktally.client.store import db, migrations


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


def test_migration_numbers_are_unique_and_start_at_one():
    numbers = [n for n, _ in migrations.MIGRATIONS]
    assert len(set(numbers)) == len(numbers)
    assert min(numbers) == 1


def test_each_migration_is_applied_once_in_numeric_order(tmp_path):
    con = duckdb.connect(str(tmp_path / "m.duckdb"))
    migrations.migrate(con)
    migrations.migrate(con)
    versions = [r[0] for r in con.execute(
        "SELECT version FROM schema_version ORDER BY applied_at, version").fetchall()]
    assert versions == sorted(n for n, _ in migrations.MIGRATIONS)
    con.close()


def test_a_lower_step_that_lands_late_is_still_applied(tmp_path, monkeypatch):
    # Helpers own reserved numbers, so step 2 may ship after step 3 was applied somewhere.
    con = duckdb.connect(str(tmp_path / "late.duckdb"))
    early = [(1, "CREATE TABLE a (x INT)"), (3, "CREATE TABLE c (x INT)")]
    monkeypatch.setattr(migrations, "MIGRATIONS", early)
    migrations.migrate(con)
    monkeypatch.setattr(migrations, "MIGRATIONS", [*early, (2, "CREATE TABLE b (x INT)")])
    migrations.migrate(con)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"a", "b", "c"} <= tables
    count = con.execute("SELECT count(*) FROM schema_version").fetchone()[0]
    assert count == 3
    con.close()


def test_migrate_reports_the_highest_version_when_a_lower_step_lands_late(tmp_path, monkeypatch):
    con = duckdb.connect(str(tmp_path / "highest.duckdb"))
    early = [(1, "CREATE TABLE a (x INT)"), (3, "CREATE TABLE c (x INT)")]
    monkeypatch.setattr(migrations, "MIGRATIONS", early)
    assert migrations.migrate(con) == 3
    monkeypatch.setattr(migrations, "MIGRATIONS", [*early, (2, "CREATE TABLE b (x INT)")])
    assert migrations.migrate(con) == 3
    assert migrations.current_version(con) == 3
    con.close()


def test_reopened_database_is_not_migrated_again(tmp_path):
    path = tmp_path / "again.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO drained_batches VALUES ('b1', now(), 3)")
    con.close()
    con = db.connect(path)
    rows = con.execute("SELECT count(*) FROM schema_version").fetchone()
    assert rows[0] == len(migrations.MIGRATIONS)
    assert con.execute("SELECT records FROM drained_batches").fetchone()[0] == 3
    con.close()


def test_a_failing_step_rolls_back_and_keeps_the_version(tmp_path, monkeypatch):
    con = duckdb.connect(str(tmp_path / "bad.duckdb"))
    good = migrations.migrate(con)
    broken = [*migrations.MIGRATIONS, (good + 1000, "CREATE TABLE half (x INT); SELEKT oops")]
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    with pytest.raises(duckdb.Error):
        migrations.migrate(con)
    assert migrations.current_version(con) == good
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "half" not in tables
    con.close()
