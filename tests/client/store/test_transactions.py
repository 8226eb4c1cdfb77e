"""A failure inside any kind of local write leaves the owner connection usable and unchanged.

The agent holds one DuckDB connection for its whole life; a write that left it inside an
open transaction would break every later write until a restart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from worktally.client import importers
from worktally.client.attribution import commits
from worktally.client.browser import paste_match
from worktally.client.capture.records import TokenUsage
from worktally.client.errors import BudgetExceededError
from worktally.client.external import scanner
from worktally.client.importers import offsets, runner
from worktally.client.importers.batch import ImportBatch
from worktally.client.report import ledger
from worktally.client.store import db, drain, migrations, queries
from worktally.client.store.transaction import transaction

Connection = duckdb.DuckDBPyConnection


@pytest.fixture
def con(worktally_home: Path) -> Iterator[Connection]:
    connection = db.connect(worktally_home / "tx.duckdb")
    yield connection
    connection.close()


def assert_usable(con: Connection) -> None:
    """A new transaction can start and commit: nothing was left open."""
    with transaction(con):
        con.execute("CREATE TEMP TABLE IF NOT EXISTS probe (x INTEGER)")
        con.execute("INSERT INTO probe VALUES (1)")
    assert con.execute("SELECT count(*) FROM probe").fetchone() == (1,)


def count(con: Connection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def test_import_batch_with_an_overflowing_timestamp(con: Connection) -> None:
    """The case a review found: OverflowError is not a duckdb.Error, and no ROLLBACK ran."""
    batch = ImportBatch(tool="claude-code")
    batch.add_usage(TokenUsage(usage_id="u1", session_id="s", tool="claude-code", model="m",
                               input_tokens=1, output_tokens=1, ts=1e20))
    cursor = offsets.Cursor(file_key="f", tool="claude-code", inode=1, head_key="h",
                            read_to=10, state={})
    with pytest.raises(OverflowError):
        runner.store_batch(con, batch, [cursor])
    assert_usable(con)
    assert count(con, "token_usage") == 0
    assert offsets.load_all(con, "claude-code") == {}


def _fail(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("injected failure")


def test_commit_attribution(con: Connection, monkeypatch: pytest.MonkeyPatch,
                            git_repo: Callable[..., object], worktally_home: Path) -> None:
    from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
    from worktally.client.config import Config
    from worktally.client.repos.registry import RepoRegistry

    repo = git_repo("tx-repo")
    repo.write("a.py", "print('one line of code')\n")  # type: ignore[attr-defined]
    repo.commit("first")  # type: ignore[attr-defined]
    keyer = LineKeyer(load_or_create_secret())
    registry = RepoRegistry(keyer)
    registered = registry.add(repo.root)  # type: ignore[attr-defined]
    real_execute_many = commits.match_keys

    def match_then_fail(*args: object) -> object:
        real_execute_many(*args)  # type: ignore[arg-type]
        raise RuntimeError("injected failure")

    monkeypatch.setattr(commits, "match_keys", match_then_fail)
    with pytest.raises(RuntimeError):
        commits.attribute_new_commits(con, keyer, registered, Config())
    assert_usable(con)
    assert count(con, "commits") == 0


def test_ledger_insert_over_budget(con: Connection) -> None:
    def entry(cohort: str) -> ledger.LedgerEntry:
        return ledger.LedgerEntry(
            cohort=cohort, period="2026-W01", schema_version=1, client_id="c", epsilon=5.0,
            delta=0.0, mechanism="discrete_laplace", values=(1, 2), nonce="n",
            idempotency_key=f"k-{cohort}", created_at=dt.datetime.now(dt.UTC))

    ledger.insert(con, entry("a"), ledger.Budget(8.0, 0.0))
    with pytest.raises(BudgetExceededError):
        ledger.insert(con, entry("b"), ledger.Budget(8.0, 0.0))
    assert_usable(con)
    assert [e.cohort for e in ledger.entries(con)] == ["a"]


def test_browser_paste_matching(con: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paste_match, "_MATCH_LINES", "SELECT error('injected failure')")
    with pytest.raises(duckdb.Error):
        paste_match.match_pastes(con)
    assert_usable(con)


def test_import_reconcile(con: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
    from worktally.client.repos.registry import RepoRegistry

    monkeypatch.setattr(importers.reconcile, "convert_external", _fail)
    keyer = LineKeyer(load_or_create_secret())
    with pytest.raises(RuntimeError):
        importers.import_tool(con, keyer, RepoRegistry(keyer), "claude-code", [])
    assert_usable(con)


def test_forget(con: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    con.execute("INSERT INTO skipped_commits VALUES ('r', 'kept')")
    con.execute(
        "INSERT INTO commits VALUES ('r', 'abc', now(), FALSE, 1, 0, 0, 0, 1, TRUE, now(), 0, 0)")
    # A table whose date column does not exist fails after the first statement ran.
    monkeypatch.setattr(queries, "FORGET_TABLES", {**queries.FORGET_TABLES,
                                                   "commits": "no_such_column"})
    with pytest.raises(duckdb.Error):
        queries.forget(con, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert_usable(con)
    assert count(con, "skipped_commits") == 1 and count(con, "commits") == 1


def test_drain_group(con: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    from worktally.client.store.batch_reader import EditColumns, ParsedBatch

    group = [ParsedBatch(batch_id="b1", path=Path("b1"), edits=EditColumns(), others=[],
                         registrations=[], size=0)]
    monkeypatch.setattr(drain, "_store_edit_columns", _fail)
    with pytest.raises(RuntimeError):
        drain.store_group(con, group)
    assert_usable(con)
    assert count(con, "drained_batches") == 0


def test_a_failing_migration_step(con: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = (10_000, "CREATE TABLE half_made (x INTEGER); SELECT error('injected failure');")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, bad])
    with pytest.raises(duckdb.Error):
        migrations.migrate(con)
    assert_usable(con)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "half_made" not in tables


def test_external_scan(con: Connection, monkeypatch: pytest.MonkeyPatch,
                       git_repo: Callable[..., object]) -> None:
    from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
    from worktally.client.config import Config
    from worktally.client.repos.registry import RepoRegistry

    repo = git_repo("scan-repo")
    keyer = LineKeyer(load_or_create_secret())
    registered = RepoRegistry(keyer).add(repo.root)  # type: ignore[attr-defined]

    def write_then_fail(con: Connection, *_args: object) -> int:
        con.execute("INSERT INTO skipped_commits VALUES ('r', 'half-written')")
        raise RuntimeError("injected failure")

    monkeypatch.setattr(scanner, "_scan", write_then_fail)
    with pytest.raises(RuntimeError):
        scanner.scan(con, keyer, registered, Config())
    assert_usable(con)
    assert count(con, "skipped_commits") == 0
