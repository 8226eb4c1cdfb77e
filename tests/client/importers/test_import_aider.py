"""Aider: exact tokens from its analytics log (real lines from Aider's repository), edits from
its chat history (a real slice plus one run in the other edit formats) confirmed by Aider's
own `Applied edit to` lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from importer_support import (
    FIXTURES,
    assert_no_canaries,
    edit_rows,
    materialise,
    model_totals,
    open_db,
    run_import,
    snapshot,
)

from worktally.client.capture.line_keys import default_keyer
from worktally.client.repos.registry import RepoRegistry

TOOL = "aider"
HISTORY = ".aider.chat.history.md"
# The anonymous analytics id in the real sample: read by no one, stored nowhere.
USER_ID = "c42c4e6b-f054-44d7-ae1f-6726cc41da88"


@pytest.fixture
def aider(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    """The fixture laid out as Aider leaves it: the history at the repository's root."""
    repo = git_repo()
    materialise(FIXTURES / "aider", tmp_path / "aider", repo.root)
    (repo.root / HISTORY).write_bytes((tmp_path / "aider" / HISTORY).read_bytes())
    (tmp_path / "aider" / HISTORY).unlink()
    return tmp_path / "aider" / "analytics.jsonl", repo.root


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tokens_are_aiders_own_exact_counts(aider) -> None:
    log, _ = aider
    con = open_db(log.parent)
    run_import(con, TOOL, log)
    own: dict[str, list[int]] = {}
    for event in _events(log):
        if event["event"] == "message_send":
            props = event["properties"]
            row = own.setdefault(props["main_model"], [0, 0])
            row[0] += props["prompt_tokens"]
            row[1] += props["completion_tokens"]
            assert props["total_tokens"] == props["prompt_tokens"] + props["completion_tokens"]
    ours = model_totals(con, TOOL)
    assert {m: [r["input_tokens"], r["output_tokens"]] for m, r in ours.items()} == own
    assert all(r["cache_read_tokens"] == r["cache_creation_tokens"] == 0 for r in ours.values())
    assert len(own) == 2


def test_each_launch_is_a_session_and_a_copied_log_counts_once(aider, tmp_path: Path) -> None:
    log, _ = aider
    con = open_db(tmp_path)
    summary = run_import(con, TOOL, log)
    launches = sum(1 for e in _events(log) if e["event"] == "launched")
    assert len(summary.sessions) == launches
    first = snapshot(con)
    copy = tmp_path / "elsewhere" / "analytics.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(log.read_bytes())
    run_import(con, TOOL, copy)
    assert snapshot(con)["usage"] == first["usage"]


def test_applied_edits_only(aider) -> None:
    log, repo_root = aider
    repo = RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(log.parent)
    summary = run_import(con, TOOL, repo_root / HISTORY)
    text = (repo_root / HISTORY).read_text()
    runs = len(re.findall(r"^# aider chat started at ", text, re.M))
    assert len(summary.sessions) == runs  # an unclosed fence swallowed no later run
    rows = edit_rows(con, TOOL)
    # One edit per `Applied edit to` line. Not counted: the block Aider could not match
    # (its retry is), the reply whose fence the model never closed, the /ask answer.
    assert len(rows) == text.count("> Applied edit to ") == 7
    # The whole-format file: 7 keyed lines of 10; an edit counts its keyed lines.
    assert sorted(r[2] for r in rows) == [1, 1, 1, 2, 3, 4, 7]
    assert all(r[1] == r[2] for r in rows)
    assert con.execute(
        "SELECT count(DISTINCT repo_id), min(repo_id) FROM edits").fetchone() == (1, repo.repo_id)
    assert summary.failed_tool_calls == 0


def test_nothing_private_is_stored(aider) -> None:
    log, repo_root = aider
    RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(log.parent)
    run_import(con, TOOL, log, repo_root / HISTORY)
    assert_no_canaries(con, ["CANARY-PROMPT-aider-5e71", "CANARY_CODE_aider_7c09", USER_ID,
                             "report/cli.py", str(repo_root)])


def test_default_locations_include_registered_repositories(aider, monkeypatch) -> None:
    from worktally.client import config
    from worktally.client.importers.run import default_files

    log, repo_root = aider
    registry = RepoRegistry(default_keyer())
    registry.add(repo_root)
    monkeypatch.setenv("AIDER_ANALYTICS_LOG", str(log))
    files = default_files(TOOL, config.Config(), registry)
    assert sorted(f.name for f in files) == [HISTORY, "analytics.jsonl"]
    off = config.Config(importers=config.ImportConfig(aider=False))
    from worktally.client.importers import locations

    assert locations.roots_for(TOOL, off, [repo_root]) == []
