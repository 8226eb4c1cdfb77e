"""Reads transcript files through the tool's parser: the new complete lines since a cursor.

Both the importer in this process (`runner`) and the parse children (`workers`) read files
this way; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from worktally.client.importers import offsets
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.claude_code import ClaudeCodeParser
from worktally.client.importers.codex import CodexParser, LineReader
from worktally.client.importers.context import ImportContext

# A very long file is stored in slices of this many lines, each in its own transaction.
LINES_PER_TRANSACTION = 50_000


class Parser(Protocol):
    batch: ImportBatch

    def feed(self, line: bytes, offset: int) -> None: ...

    def state(self) -> dict[str, Any]: ...


def make_parser(tool: str, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                reread: LineReader) -> Parser:
    if tool == "claude-code":
        return ClaudeCodeParser(ctx, batch, state)
    if tool == "codex":
        return CodexParser(ctx, batch, state, reread)
    raise ValueError(f"no importer for {tool!r}")


def read_new_lines(known: dict[str, offsets.Cursor], ctx: ImportContext, tool: str,
                   path: Path) -> Iterator[tuple[ImportBatch, offsets.Cursor, int]]:
    """(batch, cursor after it, lines read) for the complete lines of `path` not yet imported.

    A long file comes in slices of LINES_PER_TRANSACTION lines, each with its own cursor.
    """
    stat = path.stat()
    key = offsets.file_key(ctx.keyer, path)
    previous = offsets.resume_point(known.get(key), ctx.keyer, path, stat)
    start = previous.read_to if previous else 0
    state = previous.state if previous else {}
    malformed = previous.malformed_lines if previous else 0
    if start >= stat.st_size:
        return
    batch = ImportBatch(tool)
    parser = make_parser(tool, ctx, batch, state, lambda at: offsets.read_line_at(path, at))
    end = sliced_at = start
    count = 0
    for count, (at, line) in enumerate(offsets.complete_lines(path, start), start=1):
        if line.strip():
            parser.feed(line, at)
        end = at + len(line)
        if count % LINES_PER_TRANSACTION == 0:
            malformed += batch.malformed_lines
            yield batch, _cursor(ctx, path, key, tool, stat.st_ino, end, parser, malformed), count
            batch = ImportBatch(tool)
            parser.batch = batch
            sliced_at = end
    if end > sliced_at:
        malformed += batch.malformed_lines
        yield batch, _cursor(ctx, path, key, tool, stat.st_ino, end, parser, malformed), count


def _cursor(ctx: ImportContext, path: Path, key: str, tool: str, inode: int, end: int,
            parser: Parser, malformed: int) -> offsets.Cursor:
    head = offsets.head_key(ctx.keyer, path, end)
    return offsets.Cursor(file_key=key, tool=tool, inode=inode, head_key=head, read_to=end,
                          state=parser.state(), malformed_lines=malformed)
