"""GitHub Copilot CLI: its session state (`~/.copilot/session-state/<id>.jsonl`, newer
`<id>/events.jsonl`) for sessions, edits and its own per-model token summary, and its
OpenTelemetry file export (`copilot_otel.py`) for per-request tokens.

Session state is an event log: `session.start` (id, start, working folder),
`session.model_change`, `assistant.message` with `toolRequests`, `tool.execution_start` /
`tool.execution_complete` (`success`), and `session.shutdown`, whose `modelMetrics` is
Copilot's own token account of the session per model. That account is stored with origin
`summary`: the store counts it only for a session with no per-request record (from the OTel
export), so enabling the export never doubles a session's tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers import copilot_otel
from worktally.client.importers.batch import (
    ImportBatch,
    pending_from_state,
    pending_to_state,
)
from worktally.client.importers.codex import LineReader
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import (
    count,
    epoch,
    first_text,
    keyed_edit,
    name,
    obj,
    patch_edits,
)

TOOL = copilot_otel.TOOL
SUMMARY_ORIGIN = "summary"
_PATH = ("path", "file_path", "filePath")
_NEW = ("new_str", "new_string", "newString")
_OLD = ("old_str", "old_string", "oldString")
_CONTENT = ("file_text", "content", "text")


def is_document(path: Path) -> bool:
    """OTel export files are read whole; session-state event logs line by line."""
    if "session-state" in path.parts:
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"session.' not in head


def read_document(ctx: ImportContext, batch: ImportBatch, path: Path,
                  state: dict[str, Any]) -> dict[str, Any]:
    return copilot_otel.read_export(ctx, batch, path, state)


def _edit_args(tool: str, args: dict[str, Any]) -> tuple[str, list[tuple[str, str]]] | str | None:
    """(path, pairs) of a file-writing call, its patch text for apply_patch, else None."""
    if tool == "apply_patch":
        patch = first_text(args, ("input", "patch"))
        return patch or None
    path = first_text(args, _PATH)
    command = args.get("command")
    if not path:
        return None
    if tool == "create" or command == "create":
        return path, [(first_text(args, _CONTENT), "")]
    if tool in ("edit", "str_replace", "str_replace_editor") and command in (
        None, "str_replace", "insert"
    ):
        return path, [(first_text(args, _NEW), first_text(args, _OLD))]
    return None


class CopilotLines:
    """One session-state event log; open edit calls wait, keyed, in `state()`."""

    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                 reread: LineReader, path: Path) -> None:
        self.ctx = ctx
        self.batch = batch
        default = path.parent.name if path.name == "events.jsonl" else path.stem
        self.session_id: str = state.get("session_id") or default
        # Never the path itself in the saved state: the offset of the line that named it.
        self.cwd_offset: int | None = state.get("cwd_offset")
        self.cwd: str | None = None
        if self.cwd_offset is not None:
            line = reread(self.cwd_offset)
            record = _loads(line) if line is not None else None
            if record is not None and isinstance(record.get("data"), dict):
                self.cwd = _start_cwd(record["data"])
        self.pending = pending_from_state(state)

    def state(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "cwd_offset": self.cwd_offset,
                "pending": pending_to_state(self.pending)}

    def feed(self, line: bytes, offset: int) -> None:
        record = self.batch.parse_line(line)
        if record is None:
            return
        kind = record.get("type")
        data = obj(record.get("data"))
        ts = epoch(record.get("timestamp"))
        if kind == "session.start":
            self._start(data, offset)
        if ts is not None:
            repo_id = self.ctx.repo_for_cwd(self.cwd) if self.cwd else None
            self.batch.touch_session(self.session_id, ts, repo_id, self.cwd is not None)
        when = ts if ts is not None else 0.0
        if kind == "assistant.message":
            for request in data.get("toolRequests") or []:
                if isinstance(request, dict):
                    self._request(request, when)
        elif kind == "tool.execution_start":
            self._request(data, when)
        elif kind == "tool.execution_complete":
            self._complete(data)
        elif kind == "session.shutdown":
            self._summary(data, when)

    def _start(self, data: dict[str, Any], offset: int) -> None:
        sid = name(data.get("sessionId"))
        if sid is not None:
            self.session_id = sid
        cwd = _start_cwd(data)
        if cwd is not None:
            self.cwd, self.cwd_offset = cwd, offset

    def _request(self, request: dict[str, Any], ts: float) -> None:
        call_id = name(request.get("toolCallId"))
        tool = name(request.get("name")) or name(request.get("toolName"))
        args = request.get("arguments")
        if call_id is None or tool is None or call_id in self.pending:
            return
        if isinstance(args, str):
            args = _loads(args.encode())
        if not isinstance(args, dict):
            return
        found = _edit_args(tool, args)
        if isinstance(found, str):
            edits = patch_edits(self.ctx, found, self.cwd, self.session_id, ts)
        elif found is not None:
            edits = [keyed_edit(self.ctx, found[0], self.cwd, self.session_id, found[1], ts)]
        else:
            return
        if edits:
            self.pending[call_id] = edits

    def _complete(self, data: dict[str, Any]) -> None:
        call_id = name(data.get("toolCallId"))
        pending = self.pending.pop(call_id, None) if call_id else None
        if pending is None or call_id is None:
            return
        if data.get("success") is False:
            self.batch.failed_tool_calls += 1
            return
        self.batch.confirm(call_id, pending)

    def _summary(self, data: dict[str, Any], ts: float) -> None:
        metrics = data.get("modelMetrics")
        if not isinstance(metrics, dict):
            return
        for model, entry in metrics.items():
            usage = entry.get("usage") if isinstance(entry, dict) else None
            if not isinstance(usage, dict) or not name(model):
                continue
            read = count(usage.get("cacheReadTokens"))
            inp = count(usage.get("inputTokens"))
            # As in the OTel export: reads are inside inputTokens, reasoning inside output.
            tokens = (inp - min(inp, read), count(usage.get("outputTokens")),
                      count(usage.get("cacheWriteTokens")), read)
            if sum(tokens) == 0:
                continue
            usage_id = f"{TOOL}:summary:{self.session_id}:{model}"
            self.batch.add_usage(TokenUsage(
                usage_id=usage_id, session_id=self.session_id, tool=TOOL, model=str(model),
                input_tokens=tokens[0], output_tokens=tokens[1],
                cache_creation_tokens=tokens[2], cache_read_tokens=tokens[3],
                origin=SUMMARY_ORIGIN, ts=ts, event_id=usage_id,
            ))


def _start_cwd(data: dict[str, Any]) -> str | None:
    context = obj(data.get("context"))
    return name(context.get("cwd")) or name(data.get("cwd")) or name(context.get("gitRoot"))


def _loads(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
