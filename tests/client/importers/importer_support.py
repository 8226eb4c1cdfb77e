"""Shared helpers for the importer tests: fixture copies bound to a real repo, DB totals."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers import import_tool
from worktally.client.importers.locations import transcript_files
from worktally.client.importers.runner import ImportSummary
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "importers"
SAMPLES = ROOT.parent / "shared" / "samples"
PLACEHOLDER = "__REPO__"
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")


def materialise(source: Path, dest: Path, repo_root: Path | str) -> Path:
    """Copy a fixture tree, pointing every cwd and file path at `repo_root`."""
    shutil.copytree(source, dest)
    for path in dest.rglob("*.jsonl"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(PLACEHOLDER, str(repo_root)), encoding="utf-8")
    return dest


def open_db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return db.connect(tmp_path / "test.duckdb")


def run_import(con: duckdb.DuckDBPyConnection, tool: str, *roots: Path) -> ImportSummary:
    keyer = default_keyer()
    return import_tool(con, keyer, RepoRegistry(keyer), tool, transcript_files(roots))


def totals(con: duckdb.DuckDBPyConnection, tool: str) -> dict[str, int]:
    row = con.execute(
        "SELECT " + ", ".join(f"coalesce(sum({c}), 0)" for c in TOKEN_COLUMNS)
        + " FROM token_usage WHERE tool = ?", [tool],
    ).fetchone()
    assert row is not None
    out = dict(zip(TOKEN_COLUMNS, (int(v) for v in row), strict=True))
    out["total_tokens"] = sum(out.values())
    return out


def by_model(con: duckdb.DuckDBPyConnection, tool: str) -> dict[str, tuple[int, ...]]:
    rows = con.execute(
        "SELECT model, " + ", ".join(f"sum({c})" for c in TOKEN_COLUMNS)
        + " FROM token_usage WHERE tool = ? GROUP BY model", [tool],
    ).fetchall()
    return {r[0]: tuple(int(v) for v in r[1:]) for r in rows}


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Everything an import stores, in a comparable form (ids, not insertion order)."""
    return {
        "usage": sorted(con.execute(
            "SELECT usage_id, session_id, model, input_tokens, output_tokens, "
            "cache_creation_tokens, cache_read_tokens, is_sidechain FROM token_usage"
        ).fetchall()),
        "sessions": sorted(con.execute(
            "SELECT session_id, tool, repo_id, started_at, ended_at, has_cwd FROM ai_sessions"
        ).fetchall()),
        "edits": sorted(con.execute(
            "SELECT event_id, file_id, repo_id, session_id, tool, line_count FROM edits"
        ).fetchall()),
        "lines": sorted(con.execute(
            "SELECT event_id, line_key, source FROM edit_lines"
        ).fetchall()),
    }


def assert_no_canaries(con: duckdb.DuckDBPyConnection, canaries: list[str]) -> None:
    """No table holds any of these strings (paths, prompts, code) anywhere in any row."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
    ).fetchall()]
    assert "import_files" in tables
    for table in tables:
        for row in con.execute(f"SELECT * FROM {table}").fetchall():
            text = repr(row)
            for canary in canaries:
                assert canary not in text, f"{canary!r} leaked into {table}"
