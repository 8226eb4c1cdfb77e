"""Amp threads: message usage and usage-ledger threads, ccusage-equal per model; a thread
rewritten whole is read again without doubling; only edits whose tool run is done."""

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
    snapshot,
    totals,
)

from worktally.client.capture.line_keys import default_keyer
from worktally.client.repos.registry import RepoRegistry

TOOL = "amp"
T1 = "T-7c2d9a14-3e5f-4b6a-8c1d-2e3f4a5b6c7d"
T2 = "T-0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"


@pytest.fixture
def amp(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    return materialise(FIXTURES / "amp", tmp_path / "amp", repo.root), repo.root


@pytest.mark.ccusage
def test_tokens_equal_ccusage_per_model(amp) -> None:
    root, _ = amp
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    assert_equals_ccusage(con, TOOL, "ccusage-20.0.24__amp_daily_UTC.json")
    # Nothing Amp reports is kept apart from output: the columns match exactly.
    assert totals(con, TOOL)["output_tokens"] == 511 + 844


def test_the_ledger_takes_the_cache_split_from_its_message(amp) -> None:
    root, _ = amp
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    rows = con.execute(
        "SELECT usage_id, input_tokens, cache_read_tokens FROM token_usage "
        "WHERE session_id = ? ORDER BY usage_id", [T2]).fetchall()
    assert rows == [(f"{TOOL}:{T2}:ule_5c1a", 2044, 7936), (f"{TOOL}:{T2}:ule_5c1b", 512, 10112)]


def test_a_thread_rewritten_whole_is_read_again_without_doubling(amp) -> None:
    root, _ = amp
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    first = snapshot(con)
    assert run_import(con, TOOL, root).usages == {}
    path = root / "threads" / f"{T1}.json"
    thread = json.loads(path.read_text())
    thread["messages"].append({
        "role": "assistant", "messageId": 6, "content": [{"type": "text", "text": "Also tests?"}],
        "usage": {"model": "claude-sonnet-4-5-20250929", "inputTokens": 3, "outputTokens": 9,
                  "cacheReadInputTokens": 12940, "timestamp": "2026-01-19T10:03:00.000Z"},
    })
    path.write_text(json.dumps(thread, indent=2))
    run_import(con, TOOL, root)
    after = snapshot(con)
    assert len(after["usage"]) == len(first["usage"]) + 1  # type: ignore[arg-type]
    assert totals(con, TOOL)["total_tokens"] == 38593 + 21448 + 3 + 9 + 12940


def test_sessions_and_done_edits(amp) -> None:
    root, repo_root = amp
    repo = RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    # The workspace tree's file:// URI names the repository.
    assert dict(con.execute(
        "SELECT session_id, repo_id FROM ai_sessions WHERE tool = ?", [TOOL]).fetchall()
    ) == {T1: repo.repo_id, T2: repo.repo_id}
    # create_file: 5 keyed lines of 7 (a brace alone is trivial); edit_file: its 1 new line;
    # the errored edit is not one. An edit counts its keyed lines only.
    assert edit_rows(con, TOOL) == [(T1, 1, 1), (T1, 5, 5)]
    assert summary.failed_tool_calls == 1
    assert_no_canaries(con, ["CANARY-PROMPT-amp-4b8e", "CANARY_CODE_amp_d21f", "debounce.ts",
                             str(repo_root)])


def test_a_broken_thread_is_counted_not_fatal(tmp_path: Path) -> None:
    threads = tmp_path / "threads"
    threads.mkdir()
    (threads / "T-broken.json").write_text('{"id": "T-broken", "messages": [')
    con = open_db(tmp_path)
    summary = run_import(con, TOOL, tmp_path)
    assert summary.malformed_lines == 1 and summary.usages == {}
