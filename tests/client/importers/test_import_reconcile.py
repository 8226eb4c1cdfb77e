"""Watcher lines that an agent's transcript explains become that agent's ai lines, once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from importer_support import FIXTURES, materialise, open_db, run_import

from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.records import EditEvent
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import drain

# The Edit in s1.jsonl is stamped 2025-09-03T10:00:04Z.
EDIT_TS = dt.datetime(2025, 9, 3, 10, 0, 4, tzinfo=dt.UTC).timestamp()
ADDED = ["def added_function():", "    return compute_value(42)"]


def _external(keys: list[int], file_id: str, repo_id: str, ts: float, event_id: str) -> EditEvent:
    return EditEvent(source="external", keys=tuple(keys), file_id=file_id, repo_id=repo_id,
                     origin="watcher", line_count=len(keys), ts=ts, event_id=event_id)


@pytest.mark.parametrize("watcher_first", [True, False])
def test_external_lines_matching_an_agent_edit_become_ai(
    tmp_path: Path, git_repo, watcher_first: bool
) -> None:
    repo_root = git_repo().root
    keyer = default_keyer()
    repo = RepoRegistry(keyer).add(repo_root)
    claude = materialise(FIXTURES / "claude", tmp_path / "claude", repo_root)
    file_id = keyer.label("src/app.py")
    added = keyer.keys(ADDED)
    other = keyer.keys(["typed_by_someone_else = True"])
    events = [
        # Seen by the watcher 5 minutes after the agent's edit: agent lines plus one more.
        _external(added + other, file_id, repo.repo_id, EDIT_TS + 300, "mixed"),
        # Only the agent's lines, 14 minutes before: inside the window.
        _external(added, file_id, repo.repo_id, EDIT_TS - 840, "agent-only"),
        # Same lines two hours later: a different change, left alone.
        _external(added, file_id, repo.repo_id, EDIT_TS + 7200, "later"),
        # Same lines in another file: not the agent's edit.
        _external(added, keyer.label("src/other.py"), repo.repo_id, EDIT_TS, "other-file"),
    ]
    con = open_db(tmp_path)

    def store_watcher_events() -> None:
        con.execute("BEGIN TRANSACTION")
        drain.write_edits(con, events)
        con.execute("COMMIT")

    if watcher_first:
        store_watcher_events()
        run_import(con, "claude-code", claude)
    else:
        run_import(con, "claude-code", claude)
        store_watcher_events()
        run_import(con, "claude-code", claude)  # nothing new to read, but it reconciles
    lines = con.execute(
        "SELECT event_id, line_key, source, tool, kind, session_id FROM edit_lines "
        "WHERE event_id IN ('mixed', 'agent-only', 'later', 'other-file')"
    ).fetchall()
    by_event: dict[str, list[tuple]] = {}
    for event_id, key, *rest in lines:
        by_event.setdefault(event_id, []).append((key, *rest))
    ai = ("ai", "claude-code", "agent", "s1")
    assert sorted(by_event["mixed"]) == sorted(
        [(k, *ai) for k in added] + [(k, "external", None, None, None) for k in other]
    )
    assert sorted(by_event["agent-only"]) == sorted((k, *ai) for k in added)
    assert {row[1] for row in by_event["later"]} == {"external"}
    assert {row[1] for row in by_event["other-file"]} == {"external"}
    sources = dict(con.execute(
        "SELECT event_id, source FROM edits WHERE origin = 'watcher'"
    ).fetchall())
    # An event is ai only once all its lines are; a mixed one keeps its external row.
    assert sources == {"mixed": "external", "agent-only": "ai", "later": "external",
                       "other-file": "external"}
    assert con.execute(
        "SELECT tool, kind, session_id FROM edits WHERE event_id = 'agent-only'"
    ).fetchone() == ("claude-code", "agent", "s1")
