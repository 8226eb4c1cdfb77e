"""Reads a tool's log files through its parser: the new complete lines since a cursor, or a
whole document again when it changed.

Append-only logs (JSONL, Aider's Markdown) are read from the byte where the last import
stopped. Documents that a tool rewrites (JSON session files, SQLite databases) are read whole
whenever their signature (inode, size, mtime, and a database's WAL) changed; their records
carry stable ids, so a re-read replaces rows instead of adding to them. Both the importer in
this process (`runner`) and the parse children (`workers`) read files this way; nothing here
touches the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from worktally.client.importers import offsets
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.context import ImportContext
from worktally.client.importers.tools import Parser, spec

# A very long file is stored in slices of this many lines or bytes, each in its own
# transaction: what a slice holds in memory (its records, its open calls' text) is bounded
# by these, not by the file.
LINES_PER_TRANSACTION = 50_000
BYTES_PER_SLICE = 32 * 1024 * 1024

# (batch, cursor after it, lines in it)
Slice = tuple[ImportBatch, offsets.Cursor, int]


def make_parser(tool: str, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                path: Path) -> Parser:
    """The line parser for one of `tool`'s append-only files."""
    tool_spec = spec(tool)
    if tool_spec.lines is None:
        raise ValueError(f"{tool} has no line parser")
    return tool_spec.lines(ctx, batch, state, lambda at: offsets.read_line_at(path, at), path)


def read_file(known: dict[str, offsets.Cursor], ctx: ImportContext, tool: str,
              path: Path) -> Iterator[Slice]:
    """(batch, cursor after it, lines read) for what `path` holds that was not imported yet."""
    if spec(tool).is_document(path):
        yield from read_document(known, ctx, tool, path)
    else:
        yield from read_new_lines(known, ctx, tool, path)


def read_document(known: dict[str, offsets.Cursor], ctx: ImportContext, tool: str,
                  path: Path) -> Iterator[Slice]:
    """The whole document, once per change of its signature; nothing when unchanged."""
    reader = spec(tool).document
    if reader is None:
        raise ValueError(f"{tool} reads no documents")
    stat = path.stat()
    key = offsets.file_key(ctx.keyer, path)
    signature = offsets.signature(path, stat)
    previous = known.get(key)
    if previous is not None and previous.state.get("sig") == signature:
        return
    # The parser's own state (a database's high-water marks) holds only for the same file.
    same_file = previous is not None and previous.inode == stat.st_ino
    state = dict(previous.state) if previous is not None and same_file else {}
    batch = ImportBatch(tool)
    state = reader(ctx, batch, path, state)
    state["sig"] = signature
    head = offsets.head_key(ctx.keyer, path, stat.st_size)
    malformed = (previous.malformed_lines if same_file and previous else 0) + batch.malformed_lines
    yield batch, offsets.Cursor(file_key=key, tool=tool, inode=stat.st_ino, head_key=head,
                                read_to=stat.st_size, state=state,
                                malformed_lines=malformed), 1


def read_new_lines(known: dict[str, offsets.Cursor], ctx: ImportContext, tool: str,
                   path: Path) -> Iterator[Slice]:
    """(batch, cursor after it, lines read) for the complete lines of `path` not yet imported.

    A long file comes in slices of LINES_PER_TRANSACTION lines or BYTES_PER_SLICE bytes,
    each with its own cursor.
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
    parser = make_parser(tool, ctx, batch, state, path)
    blank_lines = getattr(parser, "wants_blank_lines", False)
    end = sliced_at = start
    count = sliced_count = 0
    for count, (at, line) in enumerate(offsets.complete_lines(path, start), start=1):
        # isspace() stops at the first other byte; strip() would copy every line.
        if blank_lines or not line.isspace():
            parser.feed(line, at)
        end = at + len(line)
        if count - sliced_count >= LINES_PER_TRANSACTION or end - sliced_at >= BYTES_PER_SLICE:
            malformed += batch.malformed_lines
            yield (batch, _cursor(ctx, path, key, tool, stat.st_ino, end, parser, malformed),
                   count - sliced_count)
            batch = ImportBatch(tool)
            parser.batch = batch
            sliced_at, sliced_count = end, count
    if end > sliced_at:
        malformed += batch.malformed_lines
        yield (batch, _cursor(ctx, path, key, tool, stat.st_ino, end, parser, malformed),
               count - sliced_count)


def read_whole(ctx: ImportContext, tool: str, path: Path) -> tuple[ImportBatch, int]:
    """Everything `path` holds, from the start and without cursors; (batch, bytes read)."""
    batch = ImportBatch(tool)
    tool_spec = spec(tool)
    if tool_spec.is_document(path):
        assert tool_spec.document is not None
        tool_spec.document(ctx, batch, path, {})
        return batch, path.stat().st_size
    parser = make_parser(tool, ctx, batch, {}, path)
    blank_lines = getattr(parser, "wants_blank_lines", False)
    size = 0
    for at, line in offsets.complete_lines(path, 0):
        if blank_lines or not line.isspace():
            parser.feed(line, at)
        size = at + len(line)
    return batch, size


def _cursor(ctx: ImportContext, path: Path, key: str, tool: str, inode: int, end: int,
            parser: Parser, malformed: int) -> offsets.Cursor:
    head = offsets.head_key(ctx.keyer, path, end)
    return offsets.Cursor(file_key=key, tool=tool, inode=inode, head_key=head, read_to=end,
                          state=parser.state(), malformed_lines=malformed)
