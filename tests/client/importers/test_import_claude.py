"""Claude Code transcripts: ccusage-equal token totals, sessions mapped to repos, agent edits."""

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

SONNET = "claude-sonnet-4-20250514"
OPUS = "claude-opus-4-1-20250805"


@pytest.mark.ccusage
def test_real_samples_equal_ccusage_20_0_24(tmp_path: Path) -> None:
    samples = SAMPLES / "claude-code"
    if not samples.is_dir():
        pytest.skip("../shared/samples is not present")
    expected = json.loads(
        (SAMPLES / "ccusage-expected" / "ccusage-20.0.24__claude_session_UTC.json").read_text()
    )
    con = open_db(tmp_path)
    summary = run_import(con, "claude-code", samples)
    got = totals(con, "claude-code")
    want = expected["totals"]
    assert got["input_tokens"] == want["inputTokens"] == 1_040
    assert got["output_tokens"] == want["outputTokens"] == 56_515
    assert got["cache_creation_tokens"] == want["cacheCreationTokens"] == 198_421
    assert got["cache_read_tokens"] == want["cacheReadTokens"] == 4_075_332
    assert got["total_tokens"] == want["totalTokens"] == 4_331_308
    # Per session too: ccusage names a flat file's session by its file stem (the uuid).
    for session in expected["sessions"]:
        row = con.execute(
            "SELECT sum(input_tokens + output_tokens + cache_creation_tokens "
            "+ cache_read_tokens) FROM token_usage WHERE session_id = ?",
            [session["sessionId"]],
        ).fetchone()
        assert row is not None and row[0] == session["totalTokens"]
    assert len(summary.sessions) == len(expected["sessions"])
    assert summary.malformed_lines == 0


@pytest.fixture
def claude_dir(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    return materialise(FIXTURES / "claude", tmp_path / "claude", repo.root), repo.root


def test_fixture_dedupes_across_files_and_keeps_the_largest(claude_dir) -> None:
    root, _repo = claude_dir
    con = open_db(root.parent)
    run_import(con, "claude-code", root)
    models = by_model(con, "claude-code")
    # msg_A appears 3 times (output 5, 50 in s1; 30 in s2): the largest copy, 50, counts.
    # Sonnet = msg_A(10,50,100,1000) + msg_B(3,7,0,2000) + msg_C(1,2,0,300)
    #        + msg_E(4,8,0,0) + msg_G(6,9,10,20) + msg_F(5,6,7,8) from the 2.x subagent file.
    assert models[SONNET] == (29, 82, 117, 3328)
    # msg_D's cache write is the 5m + 1h split (40 + 60), not double-counted.
    assert models[OPUS] == (2, 20, 100, 0)
    assert "<synthetic>" not in models  # all-zero API-error lines are not usage
    assert totals(con, "claude-code")["total_tokens"] == 3678  # what ccusage 20.0.24 reports
    row = con.execute(
        "SELECT output_tokens, is_sidechain FROM token_usage WHERE usage_id = 'cc:msg_A:req_A'"
    ).fetchone()
    assert row == (50, False)


def test_main_thread_copy_beats_a_sidechain_copy(claude_dir) -> None:
    root, _repo = claude_dir
    con = open_db(root.parent)
    run_import(con, "claude-code", root)
    # msg_C is a sidechain line in s1 and a main-thread line in s2.
    row = con.execute(
        "SELECT session_id, is_sidechain FROM token_usage WHERE usage_id = 'cc:msg_C:req_C'"
    ).fetchone()
    assert row == ("s2", False)


def test_malformed_line_is_counted_and_the_rest_imported(claude_dir) -> None:
    root, _repo = claude_dir
    con = open_db(root.parent)
    summary = run_import(con, "claude-code", root)
    assert summary.malformed_lines == 1
    # msg_D comes after the broken line in s1 and is still imported.
    assert con.execute(
        "SELECT count(*) FROM token_usage WHERE usage_id = 'cc:msg_D:req_D'"
    ).fetchone() == (1,)
    assert con.execute("SELECT sum(malformed_lines) FROM import_files").fetchone() == (1,)


def test_sessions_map_cwd_to_registered_repo(claude_dir) -> None:
    root, repo_root = claude_dir
    keyer = default_keyer()
    repo = RepoRegistry(keyer).add(repo_root)
    con = open_db(root.parent)
    run_import(con, "claude-code", root)
    rows = con.execute(
        "SELECT session_id, repo_id, has_cwd, epoch(started_at), epoch(ended_at) "
        "FROM ai_sessions WHERE tool = 'claude-code' ORDER BY session_id"
    ).fetchall()
    assert [r[0] for r in rows] == ["s1", "s2", "s3"]
    assert all(r[1] == repo.repo_id and r[2] for r in rows)
    s1 = rows[0]
    assert s1[4] - s1[3] == pytest.approx(10.0)  # 10:00:00 to 10:00:10


def test_cwd_outside_any_repo_and_missing_cwd(tmp_path: Path) -> None:
    outside = materialise(FIXTURES / "claude", tmp_path / "outside", tmp_path / "not-a-repo")
    con = open_db(tmp_path)
    run_import(con, "claude-code", outside)
    rows = con.execute("SELECT DISTINCT repo_id, has_cwd FROM ai_sessions").fetchall()
    assert rows == [(None, True)]
    # A transcript without cwd fields: the session exists but has no context at all.
    bare = tmp_path / "bare" / "projects" / "p" / "x.jsonl"
    bare.parent.mkdir(parents=True)
    line = json.loads((outside / "projects" / "demo-repo" / "s2.jsonl").read_text().split("\n")[3])
    line.pop("cwd")
    line["sessionId"] = "no-cwd"
    bare.write_text(json.dumps(line, separators=(",", ":")) + "\n")
    run_import(con, "claude-code", bare.parents[2])
    assert con.execute(
        "SELECT repo_id, has_cwd FROM ai_sessions WHERE session_id = 'no-cwd'"
    ).fetchone() == (None, False)


def test_edits_become_ai_keys_of_the_new_lines_only(claude_dir) -> None:
    root, repo_root = claude_dir
    keyer = default_keyer()
    repo = RepoRegistry(keyer).add(repo_root)
    con = open_db(root.parent)
    run_import(con, "claude-code", root)
    edits = con.execute(
        "SELECT event_id, file_id, repo_id, session_id, source, tool, kind, origin FROM edits "
        "ORDER BY session_id"
    ).fetchall()
    # The Edit (s1) and the MultiEdit (s3) succeeded; the Write in s1 was denied.
    assert [(e[1], e[3]) for e in edits] == [
        (keyer.label("src/app.py"), "s1"), (keyer.label("src/lib.py"), "s3"),
    ]
    assert all(e[2] == repo.repo_id and e[4:] == ("ai", "claude-code", "agent", "claude-code")
               for e in edits)
    keys = {
        session: sorted(k for (k,) in con.execute(
            "SELECT line_key FROM edit_lines WHERE session_id = ?", [session]).fetchall())
        for session in ("s1", "s3")
    }
    # old_string's lines were in the file already: only the added lines are the agent's.
    assert keys["s1"] == sorted(keyer.keys(["def added_function():",
                                            "    return compute_value(42)"]))
    assert keys["s3"] == sorted(keyer.keys([
        "VALUE = compute_default_value()", "def multi_edit_helper(x):",
        "    return x * factor_from_config()",
    ]))
    assert keyer.key("print('this write was denied')") not in {
        k for (k,) in con.execute("SELECT line_key FROM edit_lines").fetchall()
    }


def test_nothing_identifying_reaches_the_database(claude_dir) -> None:
    root, repo_root = claude_dir
    con = open_db(root.parent)
    run_import(con, "claude-code", root)
    assert_no_canaries(con, [str(repo_root), "src/app.py", "add a helper", "compute_value",
                             "demo-repo", str(root)])


@pytest.mark.ccusage
def test_a_usage_line_counts_whatever_its_type(tmp_path: Path) -> None:
    """ccusage 20 counts any line with message.usage; its own synthetic fixtures have no
    `type` at all (../shared/samples/ccusage-fixtures: 1,240 tokens in ccusage 20.0.24)."""
    fixtures = SAMPLES / "ccusage-fixtures"
    if not fixtures.is_dir():
        pytest.skip("../shared/samples is not present")
    root = tmp_path / "projects" / "p"
    root.mkdir(parents=True)
    for path in fixtures.glob("claude__*.jsonl"):
        (root / path.name).write_bytes(path.read_bytes())
    con = open_db(tmp_path)
    run_import(con, "claude-code", tmp_path)
    assert totals(con, "claude-code")["total_tokens"] == 1_240
