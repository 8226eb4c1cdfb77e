"""Pastes of code copied from a browser chat, matched in a real DuckDB file: the matching
itself, then the whole sync (drain, match, attribution, outcomes) over a real git repo.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from worktally.client.agent import pipeline
from worktally.client.attribution.commits import ai_lines_by_tool
from worktally.client.attribution.outcomes import session_outcomes
from worktally.client.browser.paste_match import match_pastes
from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.capture.records import AISession, ChatSnippet, EditEvent
from worktally.client.capture.spool import Spool
from worktally.client.config import Config
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db
from worktally.client.store.drain import drain

DAY_S = 86_400
CHAT_A = "browser-chat:aaaaaaaa-0000-4000-8000-000000000001"
CHAT_B = "browser-chat:bbbbbbbb-0000-4000-8000-000000000002"
COPIED = ["def parse_header(raw):", "    name, _, value = raw.partition(':')",
          "    return name.strip().lower(), value.strip()"]
OTHER = ["unrelated_total = compute_unrelated(41)", "unrelated_label = 'bulk only'"]


@pytest.fixture
def keyer(worktally_home: Path) -> LineKeyer:
    return LineKeyer(load_or_create_secret())


@pytest.fixture
def con(worktally_home: Path) -> duckdb.DuckDBPyConnection:
    return db.connect(worktally_home / "test.duckdb")


def edit(keyer: LineKeyer, source: str, lines: list[str], ts: float, **extra: Any) -> EditEvent:
    return EditEvent(source=source, keys=tuple(keyer.keys(lines)), file_id="f1", repo_id="r1",
                     line_count=len(lines), ts=ts, **extra)


def spool_and_drain(con: duckdb.DuckDBPyConnection, records: list[Any]) -> None:
    spool = Spool()
    spool.write(records)
    result = drain(con, spool)
    assert result.quarantined == 0


def lines_of(con: duckdb.DuckDBPyConnection, event_id: str) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT source, tool, kind, session_id FROM edit_lines WHERE event_id = ?",
        [event_id]).fetchall()


def edit_row(con: duckdb.DuckDBPyConnection, event_id: str) -> tuple[Any, ...]:
    row = con.execute("SELECT source, tool, kind, session_id, line_count FROM edits "
                      "WHERE event_id = ?", [event_id]).fetchone()
    assert row is not None
    return tuple(row)


def test_bulk_pastes_of_copied_lines_become_browser_chat_ai(
    con: duckdb.DuckDBPyConnection, keyer: LineKeyer,
) -> None:
    t0 = time.time() - 3 * DAY_S
    snippet = ChatSnippet(session_id=CHAT_A, family="claude", keys=tuple(keyer.keys(COPIED)),
                          ts=t0)
    whole = edit(keyer, "bulk", COPIED, t0 + 60, kind="paste")
    mixed = edit(keyer, "bulk", [*COPIED[:2], *OTHER], t0 + 120)
    unrelated = edit(keyer, "bulk", OTHER, t0 + 180)
    before_copy = edit(keyer, "bulk", COPIED, t0 - 60)
    too_late = edit(keyer, "bulk", COPIED, t0 + 8 * DAY_S)
    typed = edit(keyer, "typed", COPIED[:1], t0 + 240)
    spool_and_drain(con, [snippet, whole, mixed, unrelated, before_copy, too_late, typed])

    assert match_pastes(con) == 3 + 2

    ai = ("ai", "browser-chat", "paste", CHAT_A)
    assert lines_of(con, whole.event_id) == [ai] * 3
    assert edit_row(con, whole.event_id) == (*ai, 3)
    # Only the copied lines of a mixed paste move; the edit itself stays bulk.
    bulk = ("bulk", None, None, None)
    assert Counter(lines_of(con, mixed.event_id)) == Counter([ai, ai, bulk, bulk])
    assert edit_row(con, mixed.event_id)[0] == "bulk"
    for untouched in (unrelated, before_copy, too_late):
        assert {row[0] for row in lines_of(con, untouched.event_id)} == {"bulk"}
        assert edit_row(con, untouched.event_id)[0] == "bulk"
    assert lines_of(con, typed.event_id) == [("typed", None, None, None)]
    # Matching again changes nothing.
    assert match_pastes(con) == 0


def test_a_line_takes_the_latest_copy_before_the_paste(
    con: duckdb.DuckDBPyConnection, keyer: LineKeyer,
) -> None:
    t0 = time.time() - DAY_S
    keys = tuple(keyer.keys(COPIED))
    first = ChatSnippet(session_id=CHAT_A, family="chatgpt", keys=keys, ts=t0)
    second = ChatSnippet(session_id=CHAT_B, family="gemini", keys=keys, ts=t0 + 30)
    after_first = edit(keyer, "bulk", COPIED, t0 + 10)
    after_second = edit(keyer, "bulk", COPIED, t0 + 60)
    spool_and_drain(con, [first, second, after_first, after_second])

    assert match_pastes(con) == 6
    assert {row[3] for row in lines_of(con, after_first.event_id)} == {CHAT_A}
    assert {row[3] for row in lines_of(con, after_second.event_id)} == {CHAT_B}


def test_a_replayed_snippet_is_stored_once(
    con: duckdb.DuckDBPyConnection, keyer: LineKeyer,
) -> None:
    snippet = ChatSnippet(session_id=CHAT_A, family="mistral", keys=tuple(keyer.keys(COPIED)))
    # Two batches carrying the same event (a host retry): one set of rows.
    spool_and_drain(con, [snippet])
    spool_and_drain(con, [snippet])
    row = con.execute("SELECT count(*), count(DISTINCT line_key), any_value(family) "
                      "FROM chat_snippets").fetchone()
    assert row == (3, 3, "mistral")


def test_sync_attributes_the_paste_to_the_chat_and_ships_the_session(
    worktally_home: Path, keyer: LineKeyer, git_repo: Any,
) -> None:
    repo = git_repo("project")
    repo.commit("initial", files={"README.md": "# project\n"})
    registry = RepoRegistry(keyer)
    registered = registry.add(repo.root)
    now = time.time()
    # The chat happened, its code was copied, then pasted (with one typed line) and committed.
    spool = Spool()
    spool.write([
        AISession(session_id=CHAT_A, tool="browser-chat", kind="chat", repo_id=None,
                  started_at=now - 300, ended_at=now - 200, has_cwd=False),
        ChatSnippet(session_id=CHAT_A, family="chatgpt", keys=tuple(keyer.keys(COPIED)),
                    ts=now - 200),
    ])
    spool.write([
        EditEvent(source="bulk", keys=tuple(keyer.keys(COPIED)), file_id=keyer.label("h.py"),
                  repo_id=registered.repo_id, kind="paste", line_count=3, ts=now - 100),
        EditEvent(source="bulk", keys=tuple(keyer.keys(OTHER)), file_id=keyer.label("h.py"),
                  repo_id=registered.repo_id, line_count=2, ts=now - 90),
        EditEvent(source="typed", keys=tuple(keyer.keys(["typed_x = 1"])),
                  file_id=keyer.label("h.py"), repo_id=registered.repo_id, line_count=1,
                  ts=now - 80),
    ])
    sha = repo.commit("add helpers", files={"h.py": "\n".join([*COPIED, *OTHER, "typed_x = 1"])
                                            + "\n"})

    con = db.connect()
    counts = pipeline.run_sync(con, keyer, registry, Config(), time.time(), spool).to_json()

    assert counts["browser_pastes"] == 3
    assert counts["commits"] >= 1
    row = con.execute("SELECT ai_lines, bulk_lines, human_lines FROM commits WHERE sha = ?",
                      [sha]).fetchone()
    assert row == (3, 2, 1)
    unknown = con.execute("SELECT unknown_lines FROM commits WHERE sha = ?", [sha]).fetchone()
    assert unknown == (0,)
    assert ai_lines_by_tool(con, registered.repo_id) == {"browser-chat": 3}
    outcomes = {o.session_id: o.outcome
                for o in session_outcomes(con, Config(), dt.datetime.now(dt.UTC))}
    assert outcomes[CHAT_A] == "shipped"


def test_forget_all_clears_chat_snippets(worktally_home: Path, keyer: LineKeyer) -> None:
    con = db.connect()
    spool_and_drain(con, [ChatSnippet(session_id=CHAT_A, family="claude",
                                      keys=tuple(keyer.keys(COPIED)))])
    assert con.execute("SELECT count(*) FROM chat_snippets").fetchone() == (3,)
    con.close()
    # A fresh CLI process must know the table too.
    subprocess.run([sys.executable, "-m", "worktally.client.cli", "forget", "--all", "--yes"],
                   capture_output=True, timeout=120, check=True)
    con = db.connect()
    assert con.execute("SELECT count(*) FROM chat_snippets").fetchone() == (0,)
