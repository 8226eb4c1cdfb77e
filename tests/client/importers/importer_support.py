"""Shared helpers for the importer tests: fixture copies bound to a real repo, DB totals."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers import import_tool
from worktally.client.importers.locations import log_files
from worktally.client.importers.runner import ImportSummary
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "importers"
SAMPLES = ROOT.parent / "shared" / "samples"
PLACEHOLDER = "__REPO__"
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")


TEXT_SUFFIXES = (".jsonl", ".json", ".md", ".sql", "")
EXPECTED = FIXTURES / "ccusage-expected"
CCUSAGE_VERSION = "20.0.24"


def materialise(source: Path, dest: Path, repo_root: Path | str) -> Path:
    """Copy a fixture tree, pointing every cwd and file path at `repo_root`.

    A JSON-escaped copy of the path is written inside JSON strings; an opencode SQL dump
    (`*.sql`) becomes the database it describes.
    """
    shutil.copytree(source, dest)
    for path in [p for p in dest.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]:
        text = path.read_text(encoding="utf-8")
        if PLACEHOLDER in text:
            path.write_text(text.replace(PLACEHOLDER, str(repo_root)), encoding="utf-8")
    for dump in dest.rglob("*.sql"):
        build_sqlite(dump, dump.with_suffix(".db"))
        dump.unlink()
    return dest


def build_sqlite(dump: Path, target: Path) -> Path:
    con = sqlite3.connect(target)
    try:
        con.executescript(dump.read_text(encoding="utf-8"))
        con.commit()
    finally:
        con.close()
    return target


def ccusage_models(name: str) -> dict[str, dict[str, int]]:
    """ccusage's per-model token totals from a saved `daily --json` report.

    Its model breakdowns carry input, output and cache columns but no total; a day with a
    single model gives that model's total (thinking included), so the fixtures use one model
    per day and this refuses a report where that does not hold.
    """
    report = json.loads((EXPECTED / name).read_text(encoding="utf-8"))
    out: dict[str, dict[str, int]] = {}
    for day in report["daily"]:
        assert len(day["modelBreakdowns"]) == 1, f"{name}: {day['date']} mixes models"
        row = day["modelBreakdowns"][0]
        model = out.setdefault(row["modelName"], dict.fromkeys(
            ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
             "total_tokens"), 0))
        model["input_tokens"] += row["inputTokens"]
        model["output_tokens"] += row["outputTokens"]
        model["cache_creation_tokens"] += row["cacheCreationTokens"]
        model["cache_read_tokens"] += row["cacheReadTokens"]
        model["total_tokens"] += day["totalTokens"]
    return out


def model_totals(con: duckdb.DuckDBPyConnection, tool: str) -> dict[str, dict[str, int]]:
    """Per model, the four token columns and their total, as the import stored them."""
    out: dict[str, dict[str, int]] = {}
    for model, row in by_model(con, tool).items():
        fields = dict(zip(TOKEN_COLUMNS, row, strict=True))
        fields["total_tokens"] = sum(row)
        out[model] = fields
    return out


def assert_equals_ccusage(con: duckdb.DuckDBPyConnection, tool: str, expected: str) -> None:
    """Per model: input, cache write, cache read and total tokens equal ccusage's.

    Output may exceed ccusage's output column by exactly the thinking tokens ccusage keeps
    apart (it counts them in its total): worktally counts thinking as output.
    """
    theirs = ccusage_models(expected)
    ours = model_totals(con, tool)
    assert set(ours) == set(theirs)
    for model, want in theirs.items():
        got = ours[model]
        for column in ("input_tokens", "cache_creation_tokens", "cache_read_tokens",
                       "total_tokens"):
            assert got[column] == want[column], (model, column, got, want)
        assert got["output_tokens"] >= want["output_tokens"], (model, got, want)


def open_db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return db.connect(tmp_path / "test.duckdb")


def run_import(con: duckdb.DuckDBPyConnection, tool: str, *roots: Path) -> ImportSummary:
    keyer = default_keyer()
    return import_tool(con, keyer, RepoRegistry(keyer), tool, log_files(tool, list(roots)))


def edit_rows(con: duckdb.DuckDBPyConnection, tool: str) -> list[tuple[str, int, int]]:
    """(session, line_count, keyed lines) of each stored edit of a tool, sorted."""
    return sorted(con.execute(
        "SELECT e.session_id, e.line_count, count(l.line_key) FROM edits e "
        "LEFT JOIN edit_lines l ON l.event_id = e.event_id WHERE e.tool = ? "
        "GROUP BY e.event_id, e.session_id, e.line_count", [tool],
    ).fetchall())


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
