"""The worktally language server: thin pygls handlers over the tracker, signals and flusher.

didChange only classifies and splices in memory; keying and spooling happen later, in the
flush task and the writer thread, so the editor never waits for worktally.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import math
import os
import signal as os_signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

from worktally.client import config, paths
from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.capture.records import RepoRegistration
from worktally.client.capture.spool import Backlog, Spool
from worktally.client.errors import WorktallyError
from worktally.lsp.documents import OpenDocument, find_work_tree_root, identify, path_of_uri
from worktally.lsp.flusher import Flusher
from worktally.lsp.line_document import use_line_documents
from worktally.lsp.options import ServerOptions, parse_options
from worktally.lsp.pipe_reader import pipe_reader
from worktally.lsp.positions import (
    UTF16,
    LineSpan,
    Pos,
    column_len,
    content_lines,
    count_breaks,
    split_lines,
)
from worktally.lsp.signals import InvalidSignalError, Signal, parse_ai_edit, parse_paste
from worktally.lsp.spool_writer import SpoolWriter
from worktally.lsp.status import ask_agent, status_reply

log = logging.getLogger(__name__)

AI_EDIT = "worktally/aiEdit"
PASTE = "worktally/paste"
STATUS = "worktally/status"
# Shutdown waits this long for the writer thread to finish spooling.
WRITER_WAIT_S = 5.0


def _version() -> str:
    try:
        return importlib.metadata.version("worktally")
    except importlib.metadata.PackageNotFoundError:
        return "0"


class WorktallyServer(LanguageServer):
    """A LanguageServer that also holds the capture state of its open documents."""

    def __init__(self) -> None:
        super().__init__("worktally", _version(), types.TextDocumentSyncKind.Incremental)
        self.options = ServerOptions()
        self.documents: dict[str, OpenDocument] = {}
        self.keyer: LineKeyer | None = None
        self.writer: SpoolWriter | None = None
        self.flusher: Flusher | None = None
        self.registered_roots: set[str] = set()
        # Records and lines per spool batch already counted for status (files never change).
        self.backlog_cache: dict[str, tuple[int, int]] = {}
        self.encoding = UTF16
        self._flush_task: asyncio.Task[None] | None = None

    def warn(self, message: str) -> None:
        """Tell the log and the editor; messages never name a path."""
        log.warning("%s", message)
        self.window_log_message(
            types.LogMessageParams(type=types.MessageType.Warning, message=f"worktally: {message}")
        )

    def start_capture(self, options: ServerOptions) -> None:
        self.options = options
        try:
            self.keyer = LineKeyer(load_or_create_secret())
            self.writer = SpoolWriter(self.keyer)
        except (OSError, WorktallyError) as exc:
            self.keyer = self.writer = None
            self.warn(f"capture is off, the worktally home is not usable: {exc}")
            return
        # Unsignalled inserts wait out the signal window, so a late aiEdit still claims them.
        self.flusher = Flusher(self.writer, paths.paused_flag(), options.settle_ms / 1000,
                               options.signal_window_ms / 1000)
        log.info("capture on: typed <= %d chars, settle %d ms, flush every %d ms",
                 options.typed_max_chars, options.settle_ms, options.flush_interval_ms)
        self._flush_task = asyncio.ensure_future(self._flush_periodically())
        self._flush_task.add_done_callback(_report_crash)
        try:
            asyncio.get_running_loop().add_signal_handler(os_signal.SIGTERM, self._terminate)
        except (NotImplementedError, RuntimeError):
            log.debug("no SIGTERM handler on this platform")

    def _terminate(self) -> None:
        """SIGTERM (an editor stopping us hard): spool what we have, then leave at once.

        pygls's stdin reader thread cannot be interrupted, so a normal exit would hang
        until the editor closed the pipe; everything captured is durable before _exit.
        """
        self.stop_capture()
        os._exit(0)

    def register_root(self, root: str | None) -> None:
        """Ask the agent (through the spool) to watch a work tree, once per root."""
        if root is None or self.writer is None or root in self.registered_roots:
            return
        self.registered_roots.add(root)
        self.writer.submit([RepoRegistration(path=root)])
        log.info("asked the agent to watch work tree #%d", len(self.registered_roots))

    def register_folder(self, uri: str) -> None:
        path = path_of_uri(uri)
        if path is not None and path.is_dir():
            root = find_work_tree_root(path)
            self.register_root(str(root) if root else None)

    def open_document(self, uri: str, language: str) -> OpenDocument | None:
        path = path_of_uri(uri)
        if path is None or self.keyer is None:
            return None
        identity = identify(path, language, self.keyer)
        text = self.workspace.get_text_document(uri)
        doc = OpenDocument.open(uri, identity, text, self.options.signal_window_ms / 1000,
                                self.encoding)
        self.documents[unquote(uri)] = doc
        self.register_root(identity.root)
        return doc

    def flush(self, docs: Iterable[OpenDocument] | None = None, everything: bool = False) -> None:
        if self.flusher is None:
            return
        targets = list(self.documents.values() if docs is None else docs)
        if everything:
            # Last chance for near-miss signals: apply them now rather than lose them.
            for doc in targets:
                _apply_due_signals(doc, math.inf)
        self.flusher.flush(targets, time.monotonic(), everything)

    async def _flush_periodically(self) -> None:
        interval = self.options.flush_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for doc in self.documents.values():
                _apply_due_signals(doc, now)
            self.flush()

    def stop_flush_task(self) -> None:
        if self._flush_task is not None:
            self._flush_task.cancel()
            self._flush_task = None

    def stop_capture(self) -> None:
        """Flush everything and wait for the writer; safe to call more than once."""
        self.stop_flush_task()
        self.flush(everything=True)
        if self.writer is not None:
            if not self.writer.close(WRITER_WAIT_S):
                log.error("the spool writer did not finish within %.0f s", WRITER_WAIT_S)
            log.info("capture stopped; lines spooled today by source: %s",
                     self.writer.counts.today())
        self.writer = None
        self.flusher = None

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log a failed message quietly, with no pop-up in the editor.

        The detail may hold a path, so it goes to DEBUG only; a telemetry server must never
        get in the developer's way.
        """
        log.warning("a %s was not handled: %s", getattr(source, "__name__", "message"),
                    type(error).__name__)
        log.debug("details: %r", error)

    def shutdown(self) -> None:
        # Also reached when the editor goes away without shutdown/exit (stdin closed).
        self.stop_capture()
        super().shutdown()

    def _start_io_async(self, stdin: BinaryIO | None = None,
                        stdout: BinaryIO | None = None) -> None:
        """pygls's own, except that a piped stdin is read by the event loop (pipe_reader)."""
        stop_event = self._stop_event = threading.Event()
        source = stdin or sys.stdin.buffer
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))

        async def serve() -> None:
            reader = await pipe_reader(source) or StdinAsyncReader(source, self.thread_pool)
            await run_async(stop_event=stop_event, reader=reader, protocol=self.protocol,
                            logger=log, error_handler=self.report_server_error)

        try:
            asyncio.run(serve())
        except BrokenPipeError:
            log.error("the editor's pipe is closed; stopping")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the flush task stopped: %r", task.exception())


# -- handlers ---------------------------------------------------------------------------------


def initialize(ls: WorktallyServer, params: types.InitializeParams) -> None:
    # pygls made the workspace just before this handler, and opens no document before it.
    use_line_documents(ls.workspace)
    try:
        defaults = ServerOptions.from_config(config.load().capture)
    except WorktallyError as exc:
        ls.warn(f"{exc}; using default capture settings")
        defaults = ServerOptions()
    options, warnings = parse_options(params.initialization_options, defaults)
    for warning in warnings:
        ls.warn(warning)
    # pygls picks the client's preferred encoding (Neovim 0.10+ prefers UTF-8).
    ls.encoding = str(ls.workspace.position_encoding or UTF16)
    ls.start_capture(options)
    if options.register_workspace_folders:
        for folder in params.workspace_folders or []:
            ls.register_folder(folder.uri)
        if params.root_uri:
            ls.register_folder(params.root_uri)


def did_change_folders(ls: WorktallyServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
    if ls.options.register_workspace_folders:
        for folder in params.event.added:
            ls.register_folder(folder.uri)


def did_open(ls: WorktallyServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.open_document(params.text_document.uri, params.text_document.language_id)


def did_change(ls: WorktallyServer, params: types.DidChangeTextDocumentParams) -> None:
    # The hot path: no I/O, no hashing, no logging.
    doc = ls.documents.get(unquote(params.text_document.uri))
    if doc is None:
        return
    now = time.monotonic()
    tracker, signals, typed_max = doc.tracker, doc.signals, ls.options.typed_max_chars
    changes = params.content_changes
    for change in changes:
        if isinstance(change, types.TextDocumentContentChangePartial):
            start, end = change.range.start, change.range.end
            # pygls applied the changes already: the text shows this one's result only when
            # it is the sole change.
            tail_blank = len(changes) == 1 and _tail_blank(doc, start.line, change.text)
            applied = tracker.apply_change(
                Pos(start.line, start.character), Pos(end.line, end.character),
                change.text, now, typed_max, tail_blank,
            )
            for signal in signals.on_change(applied, now):
                tracker.apply_mark(_content(doc, signal), signal.attribution, now)
        else:
            tracker.reset(change.text)


def did_save(ls: WorktallyServer, params: types.DidSaveTextDocumentParams) -> None:
    doc = ls.documents.get(unquote(params.text_document.uri))
    if doc is not None:
        ls.flush([doc], everything=True)


def did_close(ls: WorktallyServer, params: types.DidCloseTextDocumentParams) -> None:
    doc = ls.documents.pop(unquote(params.text_document.uri), None)
    if doc is not None:
        ls.flush([doc], everything=True)


def shutdown(ls: WorktallyServer, params: Any) -> None:
    # Blocking is fine here: after shutdown only exit is accepted, and answering only once
    # the writer is idle means nothing is lost whatever the client does next.
    ls.stop_flush_task()
    ls.flush(everything=True)
    writer = ls.writer
    if writer is not None and not writer.wait_idle(WRITER_WAIT_S):
        log.error("the spool writer did not finish within %.0f s", WRITER_WAIT_S)


def exit_(ls: WorktallyServer, params: Any) -> None:
    ls.stop_capture()


def _content(doc: OpenDocument, signal: Signal) -> LineSpan:
    """The lines holding the signalled text, judged on the document after the edit."""
    lines = split_lines(doc.text.source)
    line = signal.start.line
    if line < len(lines):
        first_len = column_len(lines[line], doc.tracker.encoding)
    else:
        first_len = signal.start.character + 1  # not there yet: never skip it
    return content_lines(signal.start, signal.end, first_len)


def _tail_blank(doc: OpenDocument, start_line: int, text: str) -> bool:
    """After a multi-line insert at `start_line`, is its last line only the inserted text?"""
    breaks = count_breaks(text)
    if breaks == 0:
        return False
    lines = split_lines(doc.text.source)
    last = start_line + breaks
    if last >= len(lines):
        return False
    return not lines[last][len(split_lines(text)[-1]):].strip()


def _apply_due_signals(doc: OpenDocument, now: float) -> None:
    for signal in doc.signals.due(now):
        doc.tracker.apply_mark(_content(doc, signal), signal.attribution, time.monotonic())


def _on_signal(ls: WorktallyServer, method: str, params: Any,
               parse: Callable[[Any], Signal]) -> None:
    try:
        signal = parse(params)
    except InvalidSignalError as exc:
        ls.warn(f"ignored {method}: {exc}")
        return
    doc = ls.documents.get(unquote(signal.uri))
    if doc is None:
        log.debug("%s for a document that is not open", method)
        return
    now = time.monotonic()
    if doc.signals.on_signal(signal, now):
        doc.tracker.apply_mark(_content(doc, signal), signal.attribution, now)


def ai_edit(ls: WorktallyServer, params: Any) -> None:
    _on_signal(ls, AI_EDIT, params, parse_ai_edit)


def paste(ls: WorktallyServer, params: Any) -> None:
    _on_signal(ls, PASTE, params, parse_paste)


async def status(ls: WorktallyServer, params: Any) -> dict[str, Any]:
    # No socket, no agent: answer at once. A detour through a thread would leave the reply
    # pending long enough for a client's shutdown, sent right behind it, to cancel it.
    agent = await asyncio.to_thread(ask_agent) if paths.socket_path().exists() else None
    own = ls.writer.counts.today() if ls.writer is not None else {}
    paused = ls.flusher.paused() if ls.flusher is not None else paths.paused_flag().exists()
    return status_reply(agent, own, paused, _backlog(ls.backlog_cache))


def _backlog(cache: dict[str, tuple[int, int]]) -> Backlog | None:
    """What waits for the agent in the spool; read from its files, bounded in bytes."""
    try:
        return Spool().backlog(cache=cache)
    except (OSError, WorktallyError) as exc:
        log.warning("could not count the spool: %s", exc)
        return None


HANDLERS: dict[str, Callable[..., Any]] = {
    types.INITIALIZE: initialize,
    types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS: did_change_folders,
    types.TEXT_DOCUMENT_DID_OPEN: did_open,
    types.TEXT_DOCUMENT_DID_CHANGE: did_change,
    types.TEXT_DOCUMENT_DID_SAVE: did_save,
    types.TEXT_DOCUMENT_DID_CLOSE: did_close,
    types.SHUTDOWN: shutdown,
    types.EXIT: exit_,
    AI_EDIT: ai_edit,
    PASTE: paste,
    STATUS: status,
}


def create_server() -> WorktallyServer:
    server = WorktallyServer()
    for method, handler in HANDLERS.items():
        server.feature(method)(handler)
    return server
