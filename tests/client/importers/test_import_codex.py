"""Codex rollouts: running-total deltas (re-emits, resets, forks), apply_patch edits, legacy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from importer_support import (
    FIXTURES,
    SAMPLES,
    assert_no_canaries,
    by_model,
    materialise,
    open_db,
    run_import,
    totals,
)

from worktally.client.capture.line_keys import default_keyer
from worktally.client.repos.registry import RepoRegistry

ROLLOUT = "acidicsoil__rollout-2025-11-17T15-30-28-019a93b9-f380-7600-98ff-940e6b99603c.jsonl"
LEGACY = "acidicsoil__legacy-format-example__first300lines.jsonl"
PARENT = "rollout-2025-11-17T10-00-00-parent-0001.jsonl"
CHILD = "rollout-2025-11-17T11-00-00-child-0002.jsonl"


def _sample(name: str) -> Path:
    path = SAMPLES / "codex" / name
    if not path.is_file():
        pytest.skip("../shared/samples is not present")
    return path


@pytest.mark.ccusage
def test_real_rollout_equals_ccusage_20_0_24(tmp_path: Path) -> None:
    path = _sample(ROLLOUT)
    expected = json.loads(
        (SAMPLES / "ccusage-expected" / "ccusage-20.0.24__codex_daily_UTC.json").read_text()
    )["totals"]
    con = open_db(tmp_path)
    run_import(con, "codex", path)
    got = totals(con, "codex")
    # ccusage 20's inputTokens excludes cached input, which it reports as cache reads.
    assert got["input_tokens"] == expected["inputTokens"]
    assert got["cache_read_tokens"] == expected["cacheReadTokens"]
    assert got["output_tokens"] == expected["outputTokens"]
    assert got["total_tokens"] == expected["totalTokens"] == 1_121_566
    assert set(by_model(con, "codex")) == {"gpt-5.1-codex"}


@pytest.mark.ccusage
def test_legacy_rollout_gives_zero_tokens_and_its_patches(tmp_path: Path) -> None:
    path = _sample(LEGACY)
    con = open_db(tmp_path)
    summary = run_import(con, "codex", path)
    assert totals(con, "codex")["total_tokens"] == 0
    assert summary.malformed_lines == 0
    # Oracle independent of our parser: Codex's own output lists the files each successful
    # patch added (A) or modified (M); a patch that only deletes writes no lines.
    writes = 0
    for line in path.read_text().splitlines():
        doc = json.loads(line)
        if doc.get("type") != "function_call_output" or "Success." not in doc["output"]:
            continue
        listed = json.loads(doc["output"])["output"].splitlines()[1:]
        writes += sum(1 for entry in listed if entry[:2] in ("A ", "M "))
    assert writes > 0
    assert con.execute("SELECT count(*) FROM edits WHERE tool = 'codex'").fetchone() == (writes,)
    keyer = default_keyer()
    # No cwd in legacy files: files keep the patch's relative path as their keyed id.
    assert con.execute(
        "SELECT count(*) FROM edits WHERE file_id = ?", [keyer.label("src/scanner/diffIndex.ts")]
    ).fetchone() == (1,)
    assert con.execute("SELECT has_cwd, repo_id FROM ai_sessions").fetchall() == [(False, None)]


@pytest.fixture
def codex_dir(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    return materialise(FIXTURES / "codex", tmp_path / "codex", repo.root), repo.root


def test_reemits_resets_and_a_fork_count_once(codex_dir) -> None:
    root, _repo = codex_dir
    con = open_db(root.parent)
    run_import(con, "codex", root / "sessions" / "2025" / "11" / "17" / PARENT)
    # Parent: first total 1000 in (200 cached) + 50 out = 1050; a re-emit adds nothing;
    # then +1500 in (1000 cached) + 70 out = 1570; a reset to 300 + 20 counts its last
    # request, 320; then +400 in (100 cached) + 40 out = 440.
    assert totals(con, "codex") == {
        "input_tokens": 800 + 500 + 300 + 300, "output_tokens": 50 + 70 + 20 + 40,
        "cache_creation_tokens": 0, "cache_read_tokens": 200 + 1000 + 0 + 100,
        "total_tokens": 1050 + 1570 + 320 + 440,
    }
    # The fork replays the parent's history, then adds one request of 800 in (400 cached)
    # and 40 out.
    run_import(con, "codex", root)
    assert totals(con, "codex")["total_tokens"] == 3380 + 840
    per_session = dict(con.execute(
        "SELECT session_id, sum(input_tokens + output_tokens + cache_read_tokens) "
        "FROM token_usage GROUP BY session_id"
    ).fetchall())
    assert per_session == {"parent-0001": 3380, "child-0002": 840}
    assert set(by_model(con, "codex")) == {"gpt-5-codex"}


def test_fork_imported_before_its_parent_still_counts_once(codex_dir) -> None:
    root, _repo = codex_dir
    day = root / "sessions" / "2025" / "11" / "17"
    con = open_db(root.parent)
    run_import(con, "codex", day / CHILD)
    run_import(con, "codex", day / PARENT)
    assert totals(con, "codex")["total_tokens"] == 3380 + 840


def test_successful_patches_become_ai_edits(codex_dir) -> None:
    root, repo_root = codex_dir
    keyer = default_keyer()
    repo = RepoRegistry(keyer).add(repo_root)
    con = open_db(root.parent)
    run_import(con, "codex", root)
    edits = con.execute(
        "SELECT file_id, repo_id, session_id, tool, kind FROM edits ORDER BY ts"
    ).fetchall()
    # c1 (custom tool call, Add File) and c3 (shell heredoc, Update File) succeeded; c2
    # exited 1 and wrote nothing.
    assert edits == [
        (keyer.label("src/new_module.py"), repo.repo_id, "parent-0001", "codex", "agent"),
        (keyer.label("src/app.py"), repo.repo_id, "parent-0001", "codex", "agent"),
    ]
    keys = sorted(k for (k,) in con.execute("SELECT line_key FROM edit_lines").fetchall())
    assert keys == sorted(keyer.keys([
        "def brand_new_helper():", "    return 'fresh value from codex'",
        "    result = patched_by_codex(7)", "    return result",
    ]))
    sessions = con.execute(
        "SELECT session_id, repo_id, has_cwd FROM ai_sessions ORDER BY session_id"
    ).fetchall()
    assert sessions == [("child-0002", repo.repo_id, True), ("parent-0001", repo.repo_id, True)]
    assert_no_canaries(con, [str(repo_root), "src/new_module.py", "brand_new_helper",
                             "patched_by_codex", str(root)])
