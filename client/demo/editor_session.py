"""One developer's editor session: a real `worktally lsp` over stdio, driven by pygls's client.

The demo plays the editor: it opens a new file, types lines key by key, accepts an AI
completion (marked with `worktally/aiEdit`, tool copilot, kind completion), inserts an
unmarked block (a paste), saves, and shuts the server down; the caller writes the file.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from worktally.client.demo.scenario import EditorPlan
from worktally.client.errors import WorktallyError

SESSION_TIMEOUT_S = 90.0
EXIT_TIMEOUT_S = 20.0
# Edits settle quickly in the demo; everything still pending is flushed at shutdown anyway.
SERVER_OPTIONS = {"settleMs": 100, "flushIntervalMs": 50}


class EditorSessionError(WorktallyError):
    """The language server did not run the scripted session to the end."""


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _end_of(start: tuple[int, int], text: str) -> tuple[int, int]:
    parts = text.split("\n")
    if len(parts) == 1:
        return start[0], start[1] + _utf16(text)
    return start[0] + len(parts) - 1, _utf16(parts[-1])


def _range(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(start=types.Position(line=start[0], character=start[1]),
                       end=types.Position(line=end[0], character=end[1]))


class _Editor:
    def __init__(self, client: LanguageClient, uri: str) -> None:
        self.client = client
        self.uri = uri
        self.version = 1

    def insert(self, at: tuple[int, int], text: str) -> tuple[int, int]:
        self.version += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=self.uri,
                                                                version=self.version),
            content_changes=[types.TextDocumentContentChangePartial(range=_range(at, at),
                                                                    text=text)]))
        return _end_of(at, text)

    def type(self, at: tuple[int, int], text: str) -> tuple[int, int]:
        for char in text:
            at = self.insert(at, char)
        return at


def final_text(plan: EditorPlan) -> str:
    """What the editor saves: the typed lines, then the completion, then the pasted block."""
    return plan.typed + plan.ai_block + plan.bulk_block


async def _session(root: Path, plan: EditorPlan, env: Mapping[str, str]) -> None:
    client = LanguageClient("worktally-demo-editor", "1")
    await client.start_io(sys.executable, "-m", "worktally.client.cli", "lsp", env=dict(env))
    try:
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=SERVER_OPTIONS))
        client.initialized(types.InitializedParams())
        uri = (root / plan.relpath).as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text="")))
        editor = _Editor(client, uri)
        at = editor.type((0, 0), plan.typed)
        # The completion is marked before its change arrives, as the editor plugins do.
        client.protocol.notify("worktally/aiEdit", {
            "uri": uri, "range": {
                "start": {"line": at[0], "character": at[1]},
                "end": dict(zip(("line", "character"), _end_of(at, plan.ai_block),
                                strict=True))},
            "tool": "copilot", "kind": "completion", "model": "gpt-4.1"})
        at = editor.insert(at, plan.ai_block)
        editor.insert(at, plan.bulk_block)
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        await client.shutdown_async(None)
        client.exit(None)
        server = client._server
        if server is not None:
            code = await asyncio.wait_for(server.wait(), EXIT_TIMEOUT_S)
            if code != 0:
                raise EditorSessionError(f"worktally lsp exited with status {code}")
    finally:
        process = client._server
        if process is not None and process.returncode is None:
            process.kill()  # pygls's stop() would otherwise wait for it forever
        await asyncio.wait_for(client.stop(), EXIT_TIMEOUT_S)


def run_editor_session(root: Path, plan: EditorPlan, env: Mapping[str, str]) -> None:
    """Run the scripted session against a fresh server (bounded in time), then save the file."""
    try:
        asyncio.run(asyncio.wait_for(_session(root, plan, env), SESSION_TIMEOUT_S))
    except TimeoutError as exc:
        raise EditorSessionError(
            f"the editor session did not finish within {SESSION_TIMEOUT_S:.0f}s") from exc
    except (JsonRpcException, RuntimeError, OSError) as exc:
        raise EditorSessionError(f"worktally lsp failed: {exc}") from exc
    target = root / plan.relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(final_text(plan), encoding="utf-8")
