"""GitHub Copilot CLI: the OTel file export (finest usage level per trace, ccusage-equal), the
session state (sessions, edits, and Copilot's own per-session account, which counts only
where no per-request record exists)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from importer_support import (
    EXPECTED,
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
from worktally.client.importers.copilot import is_document
from worktally.client.repos.registry import RepoRegistry

TOOL = "copilot-cli"
A = "6f1e2d3c-aaaa-4b5c-9d8e-7f6a5b4c3d2e"
B = "7a8b9c0d-bbbb-4e1f-8a2b-3c4d5e6f7a8b"
C2 = "9c0d1e2f-cccc-4a3b-8c4d-5e6f7a8b9c0d"
REPORT = "ccusage-20.0.24__copilot_daily_UTC.json"


@pytest.fixture
def copilot(tmp_path: Path, git_repo) -> tuple[Path, Path]:
    repo = git_repo()
    return materialise(FIXTURES / "copilot", tmp_path / "copilot", repo.root), repo.root


def _effective(con) -> dict[str, int]:
    rows = con.execute(
        "SELECT session_id, sum(input_tokens + output_tokens + cache_creation_tokens "
        "+ cache_read_tokens) FROM token_usage_effective WHERE tool = ? GROUP BY session_id",
        [TOOL]).fetchall()
    return {str(sid): int(total) for sid, total in rows}


@pytest.mark.ccusage
def test_otel_export_equals_ccusage_per_model(copilot) -> None:
    root, _ = copilot
    con = open_db(root.parent)
    run_import(con, TOOL, root / "otel")
    assert_equals_ccusage(con, TOOL, REPORT)
    # Reasoning is part of output_tokens (OpenAI semantics): the columns match exactly.
    report = json.loads((EXPECTED / REPORT).read_text())
    assert totals(con, TOOL)["output_tokens"] == report["totals"]["outputTokens"]


def test_the_finest_level_of_each_trace_counts(copilot) -> None:
    root, _ = copilot
    con = open_db(root.parent)
    run_import(con, TOOL, root / "otel")
    ids = sorted(r[0] for r in con.execute("SELECT usage_id FROM token_usage").fetchall())
    # Trace 1: three chat spans (the inference log repeats the first one's response id, and
    # the invoke_agent span sums them); trace 2: two inference logs (its turn log sums
    # them); trace 3 has only its invoke_agent span, which therefore counts.
    assert ids == sorted([
        f"{TOOL}:resp:msg_vrtx_01A", f"{TOOL}:resp:msg_vrtx_01B", f"{TOOL}:resp:msg_vrtx_01C",
        f"{TOOL}:resp:resp_68a1", f"{TOOL}:resp:resp_68a2",
        f"{TOOL}:span:6d1b4f2c3e5a7b9d1f3c5e7a9b1d3f5c:b8d9e0f1a2b3c4d5",
    ])


def test_copilots_own_account_counts_only_without_finer_records(copilot) -> None:
    root, _ = copilot
    con = open_db(root.parent)
    run_import(con, TOOL, root)
    stored = con.execute(
        "SELECT session_id, origin FROM token_usage WHERE origin = 'summary' ORDER BY 1"
    ).fetchall()
    assert stored == [(A, "summary"), (B, "summary")]
    effective = _effective(con)
    # Session A: the per-request spans replace its account, which sums the same requests.
    assert effective[A] == 81037
    account_a = 66222 - 44980 + 612 + 14203 + 44980
    assert account_a == effective[A]  # the two sources agree on session A
    # Session B has no OTel export: Copilot's account is all there is (reads are in input).
    assert effective[B] == (8420 - 6144) + 190 + 6144
    assert effective[C2] == 22579


def test_sessions_and_edits(copilot) -> None:
    root, repo_root = copilot
    repo = RepoRegistry(default_keyer()).add(repo_root)
    con = open_db(root.parent)
    summary = run_import(con, TOOL, root)
    sessions = dict(con.execute(
        "SELECT session_id, repo_id FROM ai_sessions WHERE tool = ?", [TOOL]).fetchall())
    assert sessions[A] == repo.repo_id and sessions[B] is None
    # create: 5 keyed lines of 8; edit: its 1 new line; the rejected edit is not one.
    assert edit_rows(con, TOOL) == [(A, 1, 1), (A, 5, 5)]
    assert summary.failed_tool_calls == 1
    assert_no_canaries(con, ["CANARY-PROMPT-copilot-82fd", "CANARY_CODE_copilot_3b6e",
                             "health.py", str(repo_root)])


def test_export_files_are_read_whole_and_session_logs_by_line(copilot) -> None:
    root, _ = copilot
    assert is_document(root / "otel" / "copilot-otel.jsonl")
    assert not is_document(root / "session-state" / A / "events.jsonl")
    # A session log copied elsewhere is recognised by its content.
    copy = root / "elsewhere.jsonl"
    copy.write_bytes((root / "session-state" / f"{B}.jsonl").read_bytes())
    assert not is_document(copy)


def test_a_grown_export_adds_only_its_new_requests(copilot) -> None:
    root, _ = copilot
    con = open_db(root.parent)
    run_import(con, TOOL, root / "otel")
    export = root / "otel" / "copilot-otel.jsonl"
    span = {"type": "span", "traceId": "7e2c", "spanId": "c9", "name": "chat gpt-5",
            "endTime": [1772618400, 0], "attributes": {
                "gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-5",
                "gen_ai.conversation.id": C2, "gen_ai.response.id": "resp_68a9",
                "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 20}}
    with export.open("a") as fh:
        fh.write(json.dumps(span) + "\n")
    summary = run_import(con, TOOL, root / "otel")
    assert totals(con, TOOL)["total_tokens"] == 81037 + 22579 + 520
    assert f"{TOOL}:resp:resp_68a9" in summary.usages
