"""Gemini CLI sessions: JSONL logs with rewritten messages, legacy JSON documents, subagent
files, a migrated session in both formats; ccusage-equal tokens and confirmed edits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from importer_support import (
    EXPECTED,
    FIXTURES,
    assert_equals_ccusage,
    assert_no_canaries,
    ccusage_models,
    edit_rows,
    materialise,
    model_totals,
    open_db,
    run_import,
    snapshot,
    totals,
)

from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers.gemini import token_fields
from worktally.client.repos.registry import RepoRegistry

TOOL = "gemini-cli"
MAIN = "c1a2e3f4-5b6c-4d7e-8f90-a1b2c3d4e5f6"
SUB = "d9f8e7c6-5b4a-4392-8170-6f5e4d3c2b1a"
LEGACY = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
CANARIES = ["CANARY-PROMPT-gemini-7f3a", "CANARY_CODE_gemini_91bd", "greet.py"]


@pytest.fixture
def gemini(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    root = materialise(FIXTURES / "gemini", tmp_path / "gemini", repo.root)
    return root / "tmp", repo.root


@pytest.mark.ccusage
def test_tokens_equal_ccusage_per_model(gemini) -> None:
    root, _ = gemini
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    assert_equals_ccusage(con, TOOL, "ccusage-20.0.24__gemini_daily_UTC.json")
    # Output is ccusage's output column plus the thinking tokens it keeps apart.
    thoughts = {"gemini-2.5-pro": 412 + 57 + 1210, "gemini-2.5-flash": 180}
    theirs = ccusage_models("ccusage-20.0.24__gemini_daily_UTC.json")
    for model, ours in model_totals(con, TOOL).items():
        assert ours["output_tokens"] == theirs[model]["output_tokens"] + thoughts[model]


def test_a_rewritten_message_counts_once_with_its_last_tokens(gemini) -> None:
    root, _ = gemini
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    # The first message is written three times (no tokens, tool result, then tokens).
    row = con.execute(
        "SELECT input_tokens, output_tokens, cache_read_tokens FROM token_usage "
        "WHERE usage_id = ?", [f"{TOOL}:{MAIN}:5b0e1d2c-0001-4a00-9c00-000000000001"],
    ).fetchone()
    assert row == (11855, 81 + 412, 0)
    assert con.execute("SELECT count(*) FROM token_usage").fetchone() == (4 + 2 + 2,)


def test_token_fields_follow_geminis_own_definitions() -> None:
    # input includes the cache; tool-use prompt tokens are input; thoughts are output.
    assert token_fields({"input": 12520, "output": 133, "cached": 11936, "thoughts": 57,
                         "tool": 9, "total": 12719}) == (584 + 9, 190, 11936)
    # A total that counts the cache on top says input excluded it already.
    assert token_fields({"input": 100, "output": 10, "cached": 50, "total": 160}) == (
        100, 10, 50)
    # Tokens the parts do not explain are output (ccusage adds them to its total too).
    assert token_fields({"input": 10, "output": 1, "total": 20}) == (10, 10, 0)
    assert token_fields({"input": 0, "output": 0}) is None
    assert token_fields("garbage") is None


def test_sessions_subagents_and_the_project_root(gemini) -> None:
    root, repo_root = gemini
    repo = RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    rows = dict(con.execute(
        "SELECT session_id, repo_id FROM ai_sessions WHERE tool = ?", [TOOL]).fetchall())
    # The subagent has its own session; `.project_root` names the repository for both,
    # and the legacy project (no marker) has no repository.
    assert rows == {MAIN: repo.repo_id, SUB: repo.repo_id, LEGACY: None}
    assert summary.malformed_lines == 0  # the half-written last line waits


def test_confirmed_edits_only(gemini) -> None:
    root, repo_root = gemini
    RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    # write_file: 4 keyed lines of 6 (blank lines are not keys); replace: only the lines
    # new_string adds to old_string (2 keyed). The refused replace is not an edit.
    assert edit_rows(con, TOOL) == [(MAIN, 2, 2), (MAIN, 4, 4)]
    assert summary.failed_tool_calls == 1
    assert con.execute(
        "SELECT count(DISTINCT file_id), count(DISTINCT repo_id) FROM edits").fetchone() == (1, 1)


def test_the_half_written_line_is_read_once_complete(gemini) -> None:
    root, _ = gemini
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    before = snapshot(con)
    path = next(root.rglob("session-2026-04-29T21-39-*.jsonl"))
    with path.open("a") as fh:
        fh.write('0,"output":5,"cached":0,"thoughts":0,"tool":0,"total":15},'
                 '"model":"gemini-2.5-pro"}\n')
    summary = run_import(con, TOOL, root)
    assert len(summary.usages) == 1
    after = totals(con, TOOL)
    assert after["total_tokens"] == sum(
        sum(r[3:7]) for r in before["usage"]) + 15  # type: ignore[index]
    # Nothing new: a third run reads nothing.
    assert len(run_import(con, TOOL, root).usages) == 0


def test_a_rewritten_legacy_document_is_read_again_without_doubling(gemini) -> None:
    root, _ = gemini
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    first = totals(con, TOOL)["total_tokens"]
    legacy = next(root.rglob("chats/*.json"))
    doc = json.loads(legacy.read_text())
    doc["messages"].append({"id": "l-5", "timestamp": "2026-01-16T18:36:00.000Z",
                            "type": "gemini", "content": "", "model": "gemini-2.5-pro",
                            "tokens": {"input": 100, "output": 7, "cached": 0, "total": 107}})
    legacy.write_text(json.dumps(doc, indent=2))
    run_import(con, TOOL, root)
    assert totals(con, TOOL)["total_tokens"] == first + 107
    unchanged = snapshot(con)
    run_import(con, TOOL, root)
    assert snapshot(con) == unchanged


@pytest.mark.ccusage
def test_a_migrated_session_counts_once_where_ccusage_counts_twice(tmp_path: Path) -> None:
    root = materialise(FIXTURES / "gemini-migrated", tmp_path / "m", tmp_path) / "tmp"
    con = open_db(tmp_path)
    run_import(con, TOOL, root)
    ours = totals(con, TOOL)
    report = json.loads(
        (EXPECTED / "ccusage-20.0.24__gemini-migrated_daily_UTC.json").read_text())
    # Resuming the .json session copied its two messages into the new .jsonl: ccusage reads
    # both files and counts them twice; the .jsonl's third message is new.
    legacy = json.loads(next(root.rglob("*.json")).read_text())
    copied = sum(m["tokens"]["total"] for m in legacy["messages"] if m["type"] == "gemini")
    assert ours["total_tokens"] == report["totals"]["totalTokens"] - copied
    assert ours["total_tokens"] > 0


def test_no_prompt_code_or_path_reaches_the_database(gemini) -> None:
    root, repo_root = gemini
    RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    assert con.execute("SELECT count(*) FROM edit_lines").fetchone()[0] > 0
    assert_no_canaries(con, [*CANARIES, str(repo_root)])


def test_files_outside_chats_are_not_read(gemini, tmp_path: Path) -> None:
    root, _ = gemini
    con = open_db(tmp_path)
    summary = run_import(con, TOOL, root)
    assert summary.files == 3  # a JSONL session, its subagent's, a legacy JSON; no logs.json
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    assert len(run_import(con, TOOL, copy).usages) == 8  # read again: a new place
    assert totals(con, TOOL)["total_tokens"] == 19986 + 50204 + 8856  # no row doubled
