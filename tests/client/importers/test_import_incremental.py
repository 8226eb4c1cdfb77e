"""Incremental import: complete lines only, never twice, and any split equals the whole."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from importer_support import FIXTURES, open_db, run_import, snapshot, totals

from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers import offsets

CLAUDE_S1 = FIXTURES / "claude" / "projects" / "demo-repo" / "s1.jsonl"
CODEX_DAY = FIXTURES / "codex" / "sessions" / "2025" / "11" / "17"
CODEX_PARENT = CODEX_DAY / "rollout-2025-11-17T10-00-00-parent-0001.jsonl"
CODEX_CHILD = CODEX_DAY / "rollout-2025-11-17T11-00-00-child-0002.jsonl"
CASES = {"claude-code": [CLAUDE_S1], "codex": [CODEX_PARENT, CODEX_CHILD]}


def _whole(tool: str, folder: Path) -> dict[str, object]:
    folder.mkdir()
    for source in CASES[tool]:
        (folder / source.name).write_bytes(source.read_bytes())
    con = open_db(folder)
    run_import(con, tool, folder)
    try:
        return snapshot(con)
    finally:
        con.close()


def test_half_written_last_line_waits_until_completed(tmp_path: Path) -> None:
    data = CLAUDE_S1.read_bytes()
    lines = data.splitlines(keepends=True)
    # Cut inside the line of msg_D (the last usage line with tokens).
    cut_line = next(i for i, line in enumerate(lines) if b'"msg_D"' in line)
    head = b"".join(lines[:cut_line])
    cut = len(head) + len(lines[cut_line]) // 2
    folder = tmp_path / "t"
    folder.mkdir()
    target = folder / "s1.jsonl"
    target.write_bytes(data[:cut])
    con = open_db(tmp_path)
    summary = run_import(con, "claude-code", folder)
    assert summary.malformed_lines == 1  # the genuinely broken line, not the partial one
    assert con.execute(
        "SELECT count(*) FROM token_usage WHERE usage_id = 'cc:msg_D:req_D'"
    ).fetchone() == (0,)
    assert con.execute("SELECT read_to FROM import_files").fetchone() == (len(head),)
    with target.open("ab") as fh:
        fh.write(data[cut:])
    summary = run_import(con, "claude-code", folder)
    assert summary.malformed_lines == 0
    assert con.execute(
        "SELECT output_tokens FROM token_usage WHERE usage_id = 'cc:msg_D:req_D'"
    ).fetchone() == (20,)
    assert snapshot(con) == _whole("claude-code", tmp_path / "whole")


@pytest.mark.parametrize("tool", sorted(CASES))
def test_importing_again_changes_nothing(tool: str, tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    for source in CASES[tool]:
        (folder / source.name).write_bytes(source.read_bytes())
    con = open_db(tmp_path)
    first = run_import(con, tool, folder)
    before = snapshot(con)
    again = run_import(con, tool, folder)
    assert snapshot(con) == before
    assert first.usages and not again.usages and not again.sessions and not again.edit_ids


def _usage_line(message_id: str) -> str:
    return json.dumps({
        "type": "assistant", "sessionId": "short", "timestamp": "2025-09-03T10:00:00.000Z",
        "requestId": f"req_{message_id}",
        "message": {"id": message_id, "model": "m", "usage": {"input_tokens": 1,
                                                               "output_tokens": 2}},
    }, separators=(",", ":")) + "\n"


def test_a_file_shorter_than_its_fingerprint_still_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    target = folder / "short.jsonl"
    first = _usage_line("m1")
    assert len(first) < offsets.HEAD_BYTES  # the case where the head grows with the file
    target.write_text(first)
    con = open_db(tmp_path)
    assert set(run_import(con, "claude-code", folder).usages) == {"cc:m1:req_m1"}
    with target.open("a") as fh:
        fh.write(_usage_line("m2") * 3)
    # Resumed after the first line: only the new request is read this time.
    assert set(run_import(con, "claude-code", folder).usages) == {"cc:m2:req_m2"}


def test_replaced_file_is_read_from_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    target = folder / "rollout.jsonl"
    target.write_bytes(CODEX_PARENT.read_bytes())
    con = open_db(tmp_path)
    run_import(con, "codex", folder)
    # A different rollout under the same name (rotation, restore from backup).
    target.unlink()
    target.write_bytes(CODEX_CHILD.read_bytes())
    run_import(con, "codex", folder)
    assert totals(con, "codex")["total_tokens"] == 3380 + 840


def test_cursor_is_keyed_not_a_path(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "s1.jsonl").write_bytes(CLAUDE_S1.read_bytes())
    con = open_db(tmp_path)
    run_import(con, "claude-code", folder)
    rows = con.execute("SELECT * FROM import_files").fetchall()
    assert len(rows) == 1
    assert rows[0][0] == offsets.file_key(default_keyer(), folder / "s1.jsonl")
    assert str(tmp_path) not in repr(rows) and "s1.jsonl" not in repr(rows)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tool=st.sampled_from(sorted(CASES)), data=st.data())
def test_split_at_any_bytes_equals_whole(tool: str, data: st.DataObject) -> None:
    sources = CASES[tool]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        expected = _whole(tool, base / "whole")
        folder = base / "pieces"
        folder.mkdir()
        con = open_db(base)
        try:
            for source in sources:
                content = source.read_bytes()
                cuts = sorted(data.draw(
                    st.lists(st.integers(0, len(content)), min_size=1, max_size=3),
                    label=f"cuts in {source.name}",
                ))
                target = folder / source.name
                written = 0
                for cut in [*cuts, len(content)]:
                    with target.open("ab") as fh:
                        fh.write(content[written:cut])
                    written = max(written, cut)
                    run_import(con, tool, folder)
            assert snapshot(con) == expected
        finally:
            con.close()
