"""The server's text document gives the very text and lines pygls's own would, change after
change, for any text and any range (reversed, past the end, inside an emoji or a CRLF)."""

from __future__ import annotations

import asyncio
import copy
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import PositionCodec, TextDocument, Workspace

from worktally.lsp.line_document import LineTextDocument, use_line_documents
from worktally.lsp.pipe_reader import PipeReader, pipe_reader

# Line breaks of every kind str.splitlines knows, so the re-split must agree with pygls's.
ALPHABET = st.sampled_from(["a", "b", " ", "é", "😀", "\n", "\r", "\r\n", "\u2028", "\x0b"])
TEXT = st.lists(ALPHABET, max_size=40).map("".join)
POSITION = st.builds(types.Position, line=st.integers(0, 8), character=st.integers(0, 12))
CHANGE = st.builds(
    lambda start, end, text: types.TextDocumentContentChangePartial(
        range=types.Range(start=start, end=end), text=text),
    POSITION, POSITION, TEXT)
ENCODINGS = st.sampled_from([types.PositionEncodingKind.Utf16, types.PositionEncodingKind.Utf8,
                             types.PositionEncodingKind.Utf32])


@settings(max_examples=400, deadline=None)
@given(text=TEXT, changes=st.lists(CHANGE | TEXT, max_size=12), encoding=ENCODINGS,
       read_between=st.booleans())
def test_same_text_and_lines_as_pygls(text: str, changes: list[object], encoding: str,
                                      read_between: bool) -> None:
    codec = PositionCodec(encoding)
    theirs = TextDocument("file:///t.py", text, position_codec=codec)
    ours = LineTextDocument("file:///t.py", text, position_codec=codec)
    for change in changes:
        if isinstance(change, str):  # a full-text change
            change = types.TextDocumentContentChangeWholeDocument(text=change)
        # pygls may clamp the change's positions in place: each gets its own copy.
        mine = copy.deepcopy(change)
        theirs.apply_change(change)  # type: ignore[arg-type]
        ours.apply_change(mine)  # type: ignore[arg-type]
        assert mine == change
        if read_between:
            assert ours.source == theirs.source
    assert ours.source == theirs.source
    assert ours.lines == theirs.lines


def test_the_workspace_makes_line_documents() -> None:
    workspace = Workspace(None)
    use_line_documents(workspace)
    workspace.put_text_document(types.TextDocumentItem(
        uri="file:///x.py", language_id="python", version=1, text="a\nb\n"))
    document = workspace.get_text_document("file:///x.py")
    assert isinstance(document, LineTextDocument) and document.source == "a\nb\n"


def test_the_pipe_reader_reads_frames_and_ends_with_empty_bytes() -> None:
    async def read() -> list[bytes]:
        fd_read, fd_write = os.pipe()
        os.write(fd_write, b"Content-Length: 2\r\n\r\n{}")
        os.close(fd_write)
        with os.fdopen(fd_read, "rb") as stdin:
            reader = await pipe_reader(stdin)
            assert isinstance(reader, PipeReader)
            return [await reader.readline(), await reader.readline(),
                    await reader.readexactly(2), await reader.readline(),
                    await reader.readexactly(5)]

    assert asyncio.run(read()) == [b"Content-Length: 2\r\n", b"\r\n", b"{}", b"", b""]


def test_a_file_as_stdin_keeps_pygls_reader(tmp_path) -> None:
    path = tmp_path / "input"
    path.write_bytes(b"")

    async def read() -> object:
        with path.open("rb") as stdin:
            return await pipe_reader(stdin)

    assert asyncio.run(read()) is None
