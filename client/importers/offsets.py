"""Incremental reading of append-only transcripts: where each file was read up to.

Only complete lines (ending in a newline) are consumed, so a half-written last line waits
for the next read. A file whose inode or first bytes changed, or that shrank, is new and is
read from the start. The remembered state is keyed by a label of the path, never the path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worktally.client.capture.line_keys import LineKeyer

if TYPE_CHECKING:  # the parse children never touch the database
    import duckdb

# Enough of the first line to tell two transcripts apart (ids and a timestamp).
HEAD_BYTES = 256
READ_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Cursor:
    """What is remembered about one transcript between imports."""

    file_key: str
    tool: str
    inode: int
    head_key: str
    read_to: int
    state: dict[str, Any]
    malformed_lines: int = 0


def file_key(keyer: LineKeyer, path: Path) -> str:
    return keyer.label(f"transcript:{path.absolute()}")


def head_key(keyer: LineKeyer, path: Path, read_to: int) -> str:
    """A keyed fingerprint of the file's first bytes, only of those already read.

    Bounded by `read_to` so that a file still growing past its first line keeps the
    fingerprint it had when it was read.
    """
    with path.open("rb") as fh:
        head = fh.read(min(HEAD_BYTES, read_to))
    return keyer.label("head:" + head.decode("utf-8", "replace"))


def signature(path: Path, stat: os.stat_result) -> str:
    """When a rewritten document last changed: inode, size, mtime, and those of a SQLite
    database's write-ahead log, which grows while the database file itself stays put."""
    parts = [f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"]
    wal = path.with_name(path.name + "-wal")
    try:
        wal_stat = wal.stat()
    except OSError:
        wal_stat = None
    if wal_stat is not None:
        parts.append(f"{wal_stat.st_ino}:{wal_stat.st_size}:{wal_stat.st_mtime_ns}")
    return "|".join(parts)


def load_all(con: duckdb.DuckDBPyConnection, tool: str) -> dict[str, Cursor]:
    """Every remembered cursor of one tool, by file key (one query for a whole run)."""
    rows = con.execute(
        "SELECT file_key, inode, head_key, read_to, state, malformed_lines FROM import_files "
        "WHERE tool = ?",
        [tool],
    ).fetchall()
    return {
        str(key): Cursor(file_key=str(key), tool=tool, inode=int(inode), head_key=str(head),
                         read_to=int(read_to), state=json.loads(state),
                         malformed_lines=int(malformed))
        for key, inode, head, read_to, state, malformed in rows
    }


def save(con: duckdb.DuckDBPyConnection, cursors: Sequence[Cursor]) -> None:
    """Upsert cursors in one statement (one per file key; the caller passes each once)."""
    if not cursors:
        return
    now = dt.datetime.now(tz=dt.UTC)
    con.execute(
        """
        INSERT INTO import_files
        SELECT unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6),
               unnest($7), $8
        ON CONFLICT (file_key) DO UPDATE SET
            tool = excluded.tool, inode = excluded.inode, head_key = excluded.head_key,
            read_to = excluded.read_to, state = excluded.state,
            malformed_lines = excluded.malformed_lines, updated_at = excluded.updated_at
        """,
        [[c.file_key for c in cursors], [c.tool for c in cursors], [c.inode for c in cursors],
         [c.head_key for c in cursors], [c.read_to for c in cursors],
         [json.dumps(c.state, separators=(",", ":")) for c in cursors],
         [c.malformed_lines for c in cursors], now],
    )


def resume_point(previous: Cursor | None, keyer: LineKeyer, path: Path,
                 stat: os.stat_result) -> Cursor | None:
    """The cursor to continue from, or None when the file must be read from the start."""
    if previous is None:
        return None
    if previous.inode != stat.st_ino or stat.st_size < previous.read_to:
        return None
    if head_key(keyer, path, previous.read_to) != previous.head_key:
        return None
    return previous


def complete_lines(path: Path, start: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each complete line from `start`; stops before a partial last line.

    The caller learns where reading ended from the last offset and line length it saw.
    Lines come from the buffered reader's own (C) line splitting, a block at a time, so a
    file of any size costs one buffer plus its longest line.
    """
    with path.open("rb", buffering=READ_BUFFER) as fh:
        fh.seek(start)
        position = start
        for line in fh:
            if line[-1:] != b"\n":
                return
            yield position, line
            position += len(line)


def read_line_at(path: Path, offset: int) -> bytes | None:
    """The complete line that starts at `offset`, if it is still there."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            line = fh.readline()
    except OSError:
        return None
    return line if line.endswith(b"\n") else None

