"""Edits that supersede an earlier one (a signal relabelled lines already spooled), and step 8,
which turns committed lines no edit ever recorded from `human` into `unknown`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from worktally.client.capture.records import EditEvent
from worktally.client.capture.spool import Spool
from worktally.client.store import db, migrations
from worktally.client.store.drain import drain
from worktally.client.store.record_writers import write_edits


@pytest.fixture
def con(tmp_path: Path, worktally_home: Path) -> duckdb.DuckDBPyConnection:
    connection = db.connect(tmp_path / "supersede.duckdb")
    yield connection
    connection.close()


def _lines(con: duckdb.DuckDBPyConnection, event_id: str) -> list[int]:
    rows = con.execute("SELECT line_key FROM edit_lines WHERE event_id = ? ORDER BY line_key",
                       [event_id]).fetchall()
    return [int(r[0]) for r in rows]


def _count(con: duckdb.DuckDBPyConnection, event_id: str) -> int:
    row = con.execute("SELECT line_count FROM edits WHERE event_id = ?", [event_id]).fetchone()
    assert row is not None
    return int(row[0])


def test_a_superseding_edit_takes_its_lines_over(con: duckdb.DuckDBPyConnection) -> None:
    first = EditEvent(source="bulk", keys=(11, 12, 13), file_id="f", line_count=3,
                      event_id="e-bulk")
    write_edits(con, [first])
    late_ai = EditEvent(source="ai", keys=(12, 13), file_id="f", line_count=2, tool="copilot",
                        kind="completion", event_id="e-ai", supersedes="e-bulk")
    write_edits(con, [late_ai])
    assert (_lines(con, "e-bulk"), _count(con, "e-bulk")) == ([11], 1)
    assert (_lines(con, "e-ai"), _count(con, "e-ai")) == ([12, 13], 2)
    by_source = dict(con.execute(
        "SELECT source, sum(line_count) FROM edits GROUP BY source").fetchall())
    assert by_source == {"bulk": 1, "ai": 2}
    # A replayed copy changes nothing (the event id is known).
    write_edits(con, [late_ai])
    assert (_lines(con, "e-bulk"), _count(con, "e-bulk")) == ([11], 1)


def test_a_repeated_key_is_taken_once_per_occurrence(con: duckdb.DuckDBPyConnection) -> None:
    write_edits(con, [EditEvent(source="typed", keys=(5, 5, 6), file_id="f", line_count=3,
                                event_id="e-typed")])
    write_edits(con, [EditEvent(source="ai", keys=(5,), file_id="f", line_count=1, tool="t",
                                kind="completion", event_id="e-ai", supersedes="e-typed")])
    assert (_lines(con, "e-typed"), _count(con, "e-typed")) == ([5, 6], 2)


def test_superseding_in_the_same_drain_and_through_the_spool(
    con: duckdb.DuckDBPyConnection, tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write([EditEvent(source="typed", keys=(1, 2), file_id="f", line_count=2,
                           event_id="e1")])
    spool.write([EditEvent(source="ai_modified", keys=(2,), file_id="f", line_count=1,
                           tool="copilot", kind="completion", event_id="e2",
                           supersedes="e1")])
    drain(con, spool)
    assert (_lines(con, "e1"), _count(con, "e1")) == ([1], 1)
    assert con.execute("SELECT source, tool FROM edits WHERE event_id = 'e2'").fetchone() == (
        "ai_modified", "copilot")


def test_an_unknown_superseded_edit_is_a_no_op(con: duckdb.DuckDBPyConnection) -> None:
    write_edits(con, [EditEvent(source="ai", keys=(9,), file_id="f", line_count=1, tool="t",
                                kind="chat", event_id="e-ai", supersedes="forgotten")])
    assert _count(con, "e-ai") == 1


def test_step_8_makes_unobserved_human_lines_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "old.duckdb"
    before = [step for step in migrations.MIGRATIONS if step[0] < 8]
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    old = duckdb.connect(str(path))
    migrations.migrate(old)
    when = dt.datetime(2026, 2, 3, 12, tzinfo=dt.UTC)
    old.execute("INSERT INTO commits VALUES ('r', 'c1', ?, false, 4, 1, 0, 0, 3, true, ?)",
                [when, when])
    for key, source in ((1, "ai"), (2, "human"), (3, "human"), (4, "human")):
        old.execute("INSERT INTO commit_lines VALUES ('r', 'c1', ?, ?, NULL, NULL, NULL)",
                    [key, source])
    # Key 2 was typed before the commit, key 3 only after it, key 4 never.
    old.execute("INSERT INTO edit_lines VALUES ('t1', 2, ?, 'typed', NULL, NULL, NULL, 'f', 'r')",
                [when - dt.timedelta(minutes=5)])
    old.execute("INSERT INTO edit_lines VALUES ('t2', 3, ?, 'typed', NULL, NULL, NULL, 'f', 'r')",
                [when + dt.timedelta(minutes=5)])
    old.close()
    monkeypatch.undo()
    con = duckdb.connect(str(path))
    migrations.migrate(con)
    row = con.execute("SELECT lines_added, ai_lines, human_lines, unknown_lines, "
                      "ai_modified_lines FROM commits").fetchone()
    assert row == (4, 1, 1, 2, 0)
    sources = dict(con.execute("SELECT line_key, source FROM commit_lines").fetchall())
    assert sources == {1: "ai", 2: "human", 3: "unknown", 4: "unknown"}
    con.close()
