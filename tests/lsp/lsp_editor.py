"""A scripted editor: runs the real `worktally lsp` subprocess and drives it with pygls's client."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from worktally.client.capture.records import EditEvent, RepoRegistration
from worktally.client.capture.spool import Batch, Spool
from worktally.lsp.signals import as_plain

SESSION_TIMEOUT_S = 60
EXIT_TIMEOUT_S = 15
SERVER_CMD = (sys.executable, "-m", "worktally.client.cli", "lsp")

T = TypeVar("T")


def utf16(text: str) -> int:
    """UTF-16 length computed independently of the code under test."""
    return len(text.encode("utf-16-le")) // 2


# Column width per LSP position encoding, computed independently of the code under test.
WIDTHS: dict[str, Callable[[str], int]] = {
    "utf-16": utf16,
    "utf-8": lambda text: len(text.encode("utf-8")),
    "utf-32": len,
}


def position(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def lsp_range(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"start": {"line": start[0], "character": start[1]},
            "end": {"line": end[0], "character": end[1]}}


def end_of_insert(
    line: int, character: int, text: str, width: Callable[[str], int] = utf16
) -> tuple[int, int]:
    parts = text.split("\n")
    if len(parts) == 1:
        return line, character + width(text)
    return line + len(parts) - 1, width(parts[-1])


class Editor:
    """A scripted editor: one LanguageClient talking to one server subprocess."""

    def __init__(self, client: LanguageClient, encoding: str = "utf-16") -> None:
        self.client = client
        # The position encoding this editor offers; columns it sends are in this unit.
        self.encoding = encoding
        self.width = WIDTHS[encoding]
        self.negotiated: str | None = None
        self.log_messages: list[str] = []
        self.shown_messages: list[str] = []
        self.versions: dict[str, int] = {}
        self.stderr = b""
        self.returncode: int | None = None

    async def start(
        self, root: Path | None, options: dict[str, Any] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: types.LogMessageParams) -> None:
            self.log_messages.append(params.message)

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_show(params: types.ShowMessageParams) -> None:
            self.shown_messages.append(params.message)

        await self.client.start_io(*SERVER_CMD, *args)
        folders = ([types.WorkspaceFolder(uri=root.as_uri(), name="ws")] if root else None)
        result = await self.client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(general=types.GeneralClientCapabilities(
                position_encodings=[self.encoding])),
            root_uri=root.as_uri() if root else None,
            workspace_folders=folders,
            initialization_options=options,
        ))
        self.negotiated = result.capabilities.position_encoding
        self.client.initialized(types.InitializedParams())

    def open(self, path: Path, text: str = "", language: str = "python") -> str:
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1,
                                                 text=text)))
        return uri

    def replace(self, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri,
                                                                version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=position(*start), end=position(*end)), text=text)],
        ))

    def insert(self, uri: str, at: tuple[int, int], text: str) -> tuple[int, int]:
        """One didChange inserting `text`; returns where the inserted text ends."""
        self.replace(uri, at, at, text)
        return end_of_insert(at[0], at[1], text, self.width)

    def type(self, uri: str, at: tuple[int, int], text: str) -> tuple[int, int]:
        """Key by key: one didChange per character, as an editor sends them."""
        line, character = at
        for char in text:
            line, character = self.insert(uri, (line, character), char)
        return line, character

    def notify(self, method: str, params: Any) -> None:
        self.client.protocol.notify(method, params)

    def save(self, uri: str) -> None:
        self.client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    async def status(self) -> dict[str, Any]:
        result = await self.client.protocol.send_request_async("worktally/status", {})
        # pygls's client turns untyped JSON objects (nested ones too) into namedtuples.
        reply = as_plain(result)
        assert isinstance(reply, dict), reply
        return reply

    async def stop(self) -> None:
        """shutdown + exit, then wait for the process to end and keep its stderr."""
        await self.client.shutdown_async(None)
        self.client.exit(None)
        process = self.client._server
        assert process is not None
        self.returncode = await asyncio.wait_for(process.wait(), EXIT_TIMEOUT_S)
        if process.stderr is not None:
            self.stderr = await asyncio.wait_for(process.stderr.read(), EXIT_TIMEOUT_S)
        await asyncio.wait_for(self.client.stop(), EXIT_TIMEOUT_S)


def run_editor(
    root: Path | None,
    script: Callable[[Editor], Awaitable[T]],
    options: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    encoding: str = "utf-16",
) -> T:
    """Start a server, run `script` against it, always shut it down; bounded in time."""

    async def session() -> T:
        editor = Editor(LanguageClient("worktally-tests", "1"), encoding)
        await editor.start(root, options, args)
        try:
            return await script(editor)
        finally:
            if editor.returncode is None:
                await editor.stop()

    return asyncio.run(asyncio.wait_for(session(), SESSION_TIMEOUT_S))


def spooled() -> list[Any]:
    """Every record in the spool (fails on a corrupt batch)."""
    records: list[Any] = []
    for batch in Spool().batches():
        assert isinstance(batch, Batch), f"corrupt batch: {batch}"
        records.extend(batch.records)
    return records


def spooled_edits() -> list[EditEvent]:
    return [r for r in spooled() if isinstance(r, EditEvent)]


def spooled_registrations() -> list[RepoRegistration]:
    return [r for r in spooled() if isinstance(r, RepoRegistration)]
