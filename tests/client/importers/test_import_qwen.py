"""Qwen Code chats: the tool's own token totals (not ccusage's, which counts the cache twice),
a /branch fork counted once, subagent records, confirmed edits only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from importer_support import (
    EXPECTED,
    FIXTURES,
    assert_no_canaries,
    ccusage_models,
    edit_rows,
    materialise,
    model_totals,
    open_db,
    run_import,
    snapshot,
)

from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers.qwen import token_fields
from worktally.client.repos.registry import RepoRegistry

TOOL = "qwen-code"
A = "019f4a2e-7c1d-7b3e-9a40-5d6e7f8091a2"
B = "019f4b90-1a2b-7c3d-8e4f-5a6b7c8d9e0f"
REPORT = "ccusage-20.0.24__qwen_daily_UTC.json"


@pytest.fixture
def qwen(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    return materialise(FIXTURES / "qwen", tmp_path / "qwen", repo.root), repo.root


def _records(root: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(root.rglob("*.jsonl"))
            for line in path.read_text().splitlines()]


def test_totals_are_the_tools_own_per_request_totals(qwen) -> None:
    root, _ = qwen
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    # Oracle straight from the files: each request (uuid) once, its totalTokenCount.
    own: dict[str, int] = {}
    seen: set[str] = set()
    for record in _records(root):
        usage = record.get("usageMetadata")
        if usage and record["uuid"] not in seen:
            seen.add(record["uuid"])
            own[record["model"]] = own.get(record["model"], 0) + usage["totalTokenCount"]
    ours = model_totals(con, TOOL)
    assert {m: row["total_tokens"] for m, row in ours.items()} == own
    assert own == {"qwen3-coder-plus": 49145, "qwen3-coder-flash": 9875}


@pytest.mark.ccusage
def test_the_difference_from_ccusage_is_exactly_its_double_counting(qwen) -> None:
    root, _ = qwen
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    theirs = ccusage_models(REPORT)
    ours = model_totals(con, TOOL)
    # ccusage 20.0.24 leaves the cache inside input and adds it again as cache read, adds
    # thoughts that the OpenAI-compatible path already counts in candidates, and keys a
    # request by session, so /branch copies count twice. Its rule, applied to the files:
    ccusage_rule: dict[str, int] = {}
    for record in _records(root):
        usage = record.get("usageMetadata")
        if usage:
            ccusage_rule[record["model"]] = ccusage_rule.get(record["model"], 0) + (
                usage["promptTokenCount"] + usage["cachedContentTokenCount"]
                + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"])
    assert {m: row["total_tokens"] for m, row in theirs.items()} == ccusage_rule
    # Without copies (the flash model), input and cache read differ by the cache alone.
    flash, their_flash = ours["qwen3-coder-flash"], theirs["qwen3-coder-flash"]
    assert their_flash["input_tokens"] == flash["input_tokens"] + flash["cache_read_tokens"]
    assert their_flash["cache_read_tokens"] == flash["cache_read_tokens"]
    assert their_flash["output_tokens"] == flash["output_tokens"]
    report = json.loads((EXPECTED / REPORT).read_text())
    assert report["totals"]["totalTokens"] > sum(r["total_tokens"] for r in ours.values())


def test_token_fields() -> None:
    # The OpenAI-compatible path: thoughts inside candidates, total = prompt + candidates.
    assert token_fields({"promptTokenCount": 1000, "candidatesTokenCount": 100,
                         "thoughtsTokenCount": 30, "cachedContentTokenCount": 600,
                         "totalTokenCount": 1100}) == (400, 100, 600)
    # The Gemini path: thoughts beside candidates, in the total.
    assert token_fields({"promptTokenCount": 1000, "candidatesTokenCount": 100,
                         "thoughtsTokenCount": 30, "totalTokenCount": 1130}) == (1000, 130, 0)
    assert token_fields({"promptTokenCount": 0}) is None
    assert token_fields(None) is None


def test_fork_copies_and_sessions(qwen) -> None:
    root, repo_root = qwen
    repo = RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    assert len(summary.usages) == 5  # 4 requests in A (one a subagent's), 1 new in B
    assert dict(con.execute(
        "SELECT session_id, repo_id FROM ai_sessions WHERE tool = ?", [TOOL]).fetchall()
    ) == {A: repo.repo_id, B: repo.repo_id}
    assert con.execute(
        "SELECT count(*) FROM token_usage WHERE is_sidechain").fetchone() == (1,)


def test_confirmed_edits_only(qwen) -> None:
    root, repo_root = qwen
    RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    # write_file (4 keyed lines of 6) and the relative-path edit (1 new line, keyed); the
    # cancelled edit is not an edit. The fork's copy of the write is the same call: once.
    assert edit_rows(con, TOOL) == [(A, 1, 1), (A, 4, 4)]
    assert summary.failed_tool_calls == 1
    assert con.execute("SELECT count(DISTINCT file_id) FROM edits").fetchone() == (1,)


def test_reimport_changes_nothing_and_nothing_private_is_stored(qwen) -> None:
    root, repo_root = qwen
    RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    first = snapshot(con)
    assert len(run_import(con, TOOL, root).usages) == 0
    assert snapshot(con) == first
    assert_no_canaries(con, ["CANARY-PROMPT-qwen-33de", "CANARY_CODE_qwen_5a1c", "slug.py",
                             str(repo_root)])
