"""Droid (Factory): the settings file's running token account (one record per session, the
larger copy wins), models named as ccusage names them, edits from the transcript."""

from __future__ import annotations

import json
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
    totals,
)

from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers.droid import normalise_model
from worktally.client.repos.registry import RepoRegistry

TOOL = "droid"
S1 = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
S2 = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
def droid(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    return materialise(FIXTURES / "droid", tmp_path / "droid", repo.root), repo.root


@pytest.mark.ccusage
def test_tokens_equal_ccusage_per_model(droid) -> None:
    root, _ = droid
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    assert_equals_ccusage(con, TOOL, "ccusage-20.0.24__droid_daily_UTC.json")
    # thinkingTokens are output here; ccusage counts them in its total only.
    assert totals(con, TOOL)["output_tokens"] == 2290 + 512 + 744 + 1408


def test_model_names_follow_ccusage() -> None:
    assert normalise_model("GPT-5 [Medium]") == "gpt-5"
    assert normalise_model("custom:Claude Sonnet 4.5 [1M]") == "claude-sonnet-4-5"
    assert normalise_model("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5-20250929"


def test_the_running_account_replaces_its_earlier_copy(droid) -> None:
    root, _ = droid
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    settings = next(root.rglob(f"{S1}.settings.json"))
    doc = json.loads(settings.read_text())
    doc["tokenUsage"]["outputTokens"] += 100  # Droid rewrote it after one more request
    doc["tokenUsage"]["cacheReadTokens"] += 5000
    settings.write_text(json.dumps(doc, indent=2))
    run_import(con, TOOL, root)
    assert con.execute(
        "SELECT count(*), sum(output_tokens), sum(cache_read_tokens) FROM token_usage "
        "WHERE session_id = ?", [S1]).fetchone() == (1, 2290 + 512 + 100, 412988 + 5000)


def test_sessions_and_edits(droid) -> None:
    root, repo_root = droid
    repo = RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    assert dict(con.execute(
        "SELECT session_id, repo_id FROM ai_sessions WHERE tool = ?", [TOOL]).fetchall()
    ) == {S1: repo.repo_id, S2: repo.repo_id}
    # Edit: 2 new lines (both keyed); Create: 3 keyed lines of 5; the errored Edit is not one.
    assert edit_rows(con, TOOL) == [(S1, 2, 2), (S1, 3, 3)]
    assert summary.failed_tool_calls == 1
    assert_no_canaries(con, ["CANARY-PROMPT-droid-6c2a", "CANARY_CODE_droid_0e94",
                             "tokenize.py", str(repo_root)])


def test_resuming_a_transcript_keeps_its_folder_without_storing_it(droid) -> None:
    root, repo_root = droid
    repo = RepoRegistry(default_keyer()).add(repo_root)
    transcript = next(root.rglob(f"{S2}.jsonl"))
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    line = {"type": "message", "id": "n-03", "timestamp": "2026-02-11T16:41:00.000Z",
            "message": {"role": "assistant", "content": [{"type": "tool_use", "id": "t9",
                        "name": "Create", "input": {"file_path": "notes/build.md",
                                                    "content": "make all builds everything"}}]}}
    result = {"type": "message", "id": "n-04", "timestamp": "2026-02-11T16:41:01.000Z",
              "message": {"role": "user", "content": [{"type": "tool_result",
                                                        "tool_use_id": "t9", "content": "ok"}]}}
    with transcript.open("a") as fh:
        fh.write(json.dumps(line) + "\n" + json.dumps(result) + "\n")
    run_import(con, TOOL, root)
    # The relative path resolves against the session's folder, re-read from its line.
    assert con.execute("SELECT repo_id FROM edits WHERE session_id = ?", [S2]).fetchone() == (
        repo.repo_id,)
    assert_no_canaries(con, [str(repo_root)])
