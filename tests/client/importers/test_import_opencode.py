"""opencode: the SQLite database (read incrementally, read-only) and the older JSON storage;
ccusage-equal tokens, a message in both places counted once, completed edits only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from importer_support import (
    FIXTURES,
    assert_equals_ccusage,
    assert_no_canaries,
    edit_rows,
    materialise,
    open_db,
    run_import,
    snapshot,
    totals,
)

from worktally.client.capture.line_keys import default_keyer
from worktally.client.repos.registry import RepoRegistry

TOOL = "opencode"
S1, S2 = "ses_4f2a91c7effeQ1mZk8Rv3TbA2x", "ses_4f2a0b33cffeH7yNw2Lp9XcD5e"
LEGACY = "ses_7b1d2e3f4ffeK9jHg8Fd7Sa6Qw"


@pytest.fixture
def opencode(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    return materialise(FIXTURES / "opencode", tmp_path / "opencode", repo.root), repo.root


@pytest.mark.ccusage
def test_database_tokens_equal_ccusage_per_model(opencode) -> None:
    root, _ = opencode
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    assert_equals_ccusage(con, TOOL, "ccusage-20.0.24__opencode_daily_UTC.json")
    # gpt-5's reasoning (640 + 128) is output here, apart from ccusage's output column.
    row = con.execute("SELECT sum(output_tokens) FROM token_usage WHERE model = 'gpt-5'")
    assert row.fetchone() == (318 + 51 + 640 + 128,)


@pytest.mark.ccusage
def test_json_storage_tokens_equal_ccusage_per_model(tmp_path: Path) -> None:
    root = materialise(FIXTURES / "opencode-legacy", tmp_path / "legacy", tmp_path)
    con = open_db(tmp_path)
    run_import(con, TOOL, root)
    assert_equals_ccusage(con, TOOL, "ccusage-20.0.24__opencode-legacy_daily_UTC.json")


def test_a_message_left_in_json_storage_counts_once(opencode) -> None:
    root, _ = opencode
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    assert summary.files == 2  # the database and the leftover JSON message
    # The stale JSON copy (output 12) loses to the database row (output 160).
    assert con.execute(
        "SELECT count(*), max(output_tokens) FROM token_usage WHERE usage_id = ?",
        [f"{TOOL}:msg_b0d56e040001P0o9I8u7Y6t5R4"],
    ).fetchone() == (1, 160)
    # The aborted message with zero tokens is not usage.
    assert con.execute("SELECT count(*) FROM token_usage").fetchone() == (5,)


def test_sessions_and_completed_edits(opencode) -> None:
    root, repo_root = opencode
    repo = RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    assert dict(con.execute(
        "SELECT session_id, repo_id FROM ai_sessions WHERE tool = ?", [TOOL]).fetchall()
    ) == {S1: repo.repo_id, S2: repo.repo_id}
    # write (5 keyed lines of 7: a brace alone is trivial), edit (1 keyed of 2 new lines),
    # the patch (1 keyed of 2 added); the failed edit is not one.
    assert edit_rows(con, TOOL) == [(S2, 1, 1), (S1, 1, 1), (S1, 5, 5)]
    assert summary.failed_tool_calls == 1


def test_the_database_is_read_from_its_high_water_mark(opencode) -> None:
    root, _ = opencode
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    first = snapshot(con)
    # Unchanged: not even opened again (its signature is the same).
    assert run_import(con, TOOL, root).files == 2
    assert snapshot(con) == first
    db = sqlite3.connect(root / "opencode.db")
    tokens = {"total": 1000, "input": 10, "output": 90, "reasoning": 0,
              "cache": {"read": 900, "write": 0}}
    data = {"role": "assistant", "time": {"created": 1767430900000}, "modelID": "gpt-5",
            "providerID": "openai", "tokens": tokens}
    db.execute("INSERT INTO message VALUES (?, ?, ?, ?, ?)",
               ["msg_b0e0a1000009Pp3", S2, 1767430900000, 1767430900000, json.dumps(data)])
    db.commit()
    db.close()
    summary = run_import(con, TOOL, root)
    # Rows updated at or after the mark: the new one, and the last one at the mark itself
    # (a row changed within the same millisecond is not missed; re-reading it is harmless).
    assert set(summary.usages) == {f"{TOOL}:msg_b0e0a1000009Pp3",
                                   f"{TOOL}:msg_b0e0a1000004Kk9Ll0Mm1Nn2Oo"}
    assert totals(con, TOOL)["total_tokens"] == 75981 + 20360 + 1000


def test_a_database_without_time_columns_is_read_whole(tmp_path: Path) -> None:
    # ccusage's own test databases have only (id, session_id, data).
    db = sqlite3.connect(tmp_path / "opencode.db")
    db.execute("CREATE TABLE message (id TEXT, session_id TEXT, data TEXT)")
    db.execute("INSERT INTO message VALUES ('m1', 's1', ?)", [json.dumps(
        {"providerID": "anthropic", "modelID": "claude-sonnet-4-20250514",
         "time": {"created": 1767312000000},
         "tokens": {"input": 120, "output": 60, "cache": {"read": 12, "write": 24}}})])
    db.commit()
    db.close()
    con = open_db(tmp_path)
    run_import(con, TOOL, tmp_path)
    assert totals(con, TOOL) == {"input_tokens": 120, "output_tokens": 60,
                                 "cache_creation_tokens": 24, "cache_read_tokens": 12,
                                 "total_tokens": 216}


def test_a_broken_database_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "opencode.db").write_bytes(b"this is not a database" * 100)
    con = open_db(tmp_path / "x")
    summary = run_import(con, TOOL, tmp_path)
    assert totals(con, TOOL)["total_tokens"] == 0
    assert summary.files == 1
    # Not recorded as read: it is tried again next time.
    assert con.execute("SELECT count(*) FROM import_files").fetchone() == (0,)


def test_legacy_edits_and_nothing_private_is_stored(tmp_path: Path, git_repo) -> None:
    repo = git_repo()
    RepoRegistry(default_keyer()).add(repo.root)
    root = materialise(FIXTURES / "opencode-legacy", tmp_path / "legacy", repo.root)
    con = open_db(tmp_path)
    run_import(con, TOOL, root)
    # write: 4 keyed lines of 6; multiedit: 2 new lines, both keyed.
    assert edit_rows(con, TOOL) == [(LEGACY, 2, 2), (LEGACY, 4, 4)]
    assert_no_canaries(con, ["CANARY-PROMPT-opencode-legacy-0c2e",
                             "CANARY_CODE_opencode_legacy_9f70", "config.py", str(repo.root)])


def test_database_canaries(opencode) -> None:
    root, repo_root = opencode
    RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    assert_no_canaries(con, ["CANARY-PROMPT-opencode-1e9b", "CANARY_CODE_opencode_c47d",
                             "retry.ts", str(repo_root)])
