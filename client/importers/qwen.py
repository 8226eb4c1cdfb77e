"""Qwen Code chats (`~/.qwen/projects/<project>/chats/<session>.jsonl`): sessions, token
usage and edits.

Each line is one record with its own `uuid`, `sessionId`, `cwd` and `timestamp`. `assistant`
records carry the model and `usageMetadata` (Gemini's field names); `/branch` copies records
into a new session file keeping their uuid, so tokens are keyed by uuid and a fork never
counts twice. Edits are `edit` / `write_file` function calls whose `tool_result` record says
success.

`promptTokenCount` includes `cachedContentTokenCount`. Whether `thoughtsTokenCount` is inside
`candidatesTokenCount` depends on the provider Qwen Code talked to (the OpenAI path puts
reasoning inside completion tokens, the Gemini path beside them); `totalTokenCount` tells
which, and output is counted once either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worktally.client.capture.records import TokenUsage
from worktally.client.importers.batch import (
    ImportBatch,
    pending_from_state,
    pending_to_state,
)
from worktally.client.importers.codex import LineReader
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import count, epoch, keyed_edit, name, text

TOOL = "qwen-code"
EDIT_TOOLS = ("edit", "replace", "write_file")


def wanted(path: Path) -> bool:
    return path.parent.name == "chats"


def token_fields(usage: Any) -> tuple[int, int, int] | None:
    """(input without cache, output, cache read) of a `usageMetadata` object."""
    if not isinstance(usage, dict):
        return None
    prompt = count(usage.get("promptTokenCount"))
    candidates = count(usage.get("candidatesTokenCount"))
    thoughts = count(usage.get("thoughtsTokenCount"))
    cached = count(usage.get("cachedContentTokenCount"))
    tool = count(usage.get("toolUsePromptTokenCount"))
    total = usage.get("totalTokenCount")
    output = candidates
    if total is None or count(total) >= prompt + candidates + thoughts + tool:
        output += thoughts  # reported beside the candidates (the Gemini convention)
    if total is not None and count(total) > prompt + output + tool:
        output += count(total) - (prompt + output + tool)
    input_tokens = prompt - min(prompt, cached) + tool
    if input_tokens == output == cached == 0:
        return None
    return input_tokens, output, cached


class QwenLines:
    """One chat file read line by line; open edit calls wait, keyed, in `state()`."""

    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                 reread: LineReader, path: Path) -> None:
        self.ctx = ctx
        self.batch = batch
        self.pending = pending_from_state(state)

    def state(self) -> dict[str, Any]:
        return {"pending": pending_to_state(self.pending)}

    def feed(self, line: bytes, offset: int) -> None:
        record = self.batch.parse_line(line)
        if record is None:
            return
        session_id = name(record.get("sessionId"))
        ts = epoch(record.get("timestamp"))
        if session_id is None or ts is None:
            return
        cwd = name(record.get("cwd"))
        repo_id = self.ctx.repo_for_cwd(cwd) if cwd else None
        self.batch.touch_session(session_id, ts, repo_id, cwd is not None)
        kind = record.get("type")
        if kind == "assistant":
            self._usage(record, session_id, ts)
            self._calls(record, session_id, cwd, ts)
        elif kind == "tool_result" and self.pending:
            self._result(record)

    def _usage(self, record: dict[str, Any], session_id: str, ts: float) -> None:
        fields = token_fields(record.get("usageMetadata"))
        if fields is None:
            return
        uuid = name(record.get("uuid"))
        usage_id = f"{TOOL}:{uuid}" if uuid else f"{TOOL}:{session_id}:{ts}:{fields}"
        inp, out, cached = fields
        self.batch.add_usage(TokenUsage(
            usage_id=usage_id, session_id=session_id, tool=TOOL,
            model=name(record.get("model")) or "unknown", input_tokens=inp, output_tokens=out,
            cache_read_tokens=cached, is_sidechain=bool(record.get("isSidechain")), ts=ts,
            event_id=usage_id,
        ))

    def _calls(self, record: dict[str, Any], session_id: str, cwd: str | None,
               ts: float) -> None:
        message = record.get("message")
        parts = message.get("parts") if isinstance(message, dict) else None
        if not isinstance(parts, list):
            return
        for part in parts:
            call = part.get("functionCall") if isinstance(part, dict) else None
            if not isinstance(call, dict) or call.get("name") not in EDIT_TOOLS:
                continue
            call_id = name(call.get("id"))
            args = call.get("args")
            path = name(args.get("file_path")) if isinstance(args, dict) else None
            if call_id is None or path is None or not isinstance(args, dict):
                continue
            if call["name"] == "write_file":
                pairs = [(text(args.get("content")), "")]
            else:
                pairs = [(text(args.get("new_string")), text(args.get("old_string")))]
            self.pending[call_id] = [keyed_edit(self.ctx, path, cwd, session_id, pairs, ts)]

    def _result(self, record: dict[str, Any]) -> None:
        result = record.get("toolCallResult")
        call_ids: list[tuple[str, bool]] = []
        if isinstance(result, dict) and name(result.get("callId")):
            ok = result.get("status", "success") == "success" and not result.get("error")
            call_ids.append((str(result["callId"]).strip(), ok))
        message = record.get("message")
        parts = message.get("parts") if isinstance(message, dict) else None
        for part in parts if isinstance(parts, list) else []:
            response = part.get("functionResponse") if isinstance(part, dict) else None
            if isinstance(response, dict) and name(response.get("id")):
                body = response.get("response")
                ok = not (isinstance(body, dict) and "error" in body)
                call_ids.append((str(response["id"]).strip(), ok))
        for call_id, ok in call_ids:
            pending = self.pending.pop(call_id, None)
            if pending is None:
                continue
            if ok:
                self.batch.confirm(call_id, pending)
            else:
                self.batch.failed_tool_calls += 1
