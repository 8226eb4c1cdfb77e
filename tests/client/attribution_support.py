"""Builders shared by the attribution, survival and external-edit tests."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import EditEvent
from worktally.client.repos.registry import Repo
from worktally.client.store import db, drain

KEYER = LineKeyer(b"k" * 32)


def open_db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return db.connect(tmp_path / "x.duckdb")


def repo_for(root: Path) -> Repo:
    return Repo(repo_id=KEYER.label(str(root)), path=str(root), added_at=time.time())


def record(con: duckdb.DuckDBPyConnection, source: str, lines: list[str], ts: float | None = None,
           tool: str | None = None, session_id: str | None = None, repo_id: str | None = None,
           file_id: str = "f", kind: str | None = None) -> EditEvent:
    """Store one edit event with the keys of `lines`, as the drain would."""
    event = EditEvent(
        source=source, keys=tuple(KEYER.keys(lines)), file_id=file_id, repo_id=repo_id,
        tool=tool, kind=kind or ("agent" if source == "ai" else None), session_id=session_id,
        line_count=len(lines), ts=time.time() - 60 if ts is None else ts,
    )
    drain.write_edits(con, [event])
    return event


def commit_row(con: duckdb.DuckDBPyConnection, sha: str) -> dict[str, object]:
    cur = con.execute("SELECT * FROM commits WHERE sha = ?", [sha])
    row = cur.fetchone()
    assert row is not None, "commit was not recorded"
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def numbered(prefix: str, n: int) -> list[str]:
    """n distinct, non-trivial code lines."""
    return [f"{prefix}_value_{i} = compute_{prefix}({i})" for i in range(n)]
