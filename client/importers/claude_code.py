"""Claude Code transcripts (`projects/**/*.jsonl`): sessions, token usage and agent edits.

Token rules follow ccusage 20.0.24 so totals agree: only lines with `message.usage` count
(in real files, `assistant` lines); one response written as several lines shares
(message.id, requestId) and is deduplicated across all files, keeping the main-thread copy,
then the largest.
Edits come from Edit/MultiEdit/Write/NotebookEdit inputs once their tool result succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from worktally.client.importers.batch import (
    ROW_SIDECHAIN,
    ImportBatch,
    PendingEdit,
    parse_ts,
    pending_from_state,
    pending_to_state,
    row_total,
)
from worktally.client.importers.context import ImportContext
from worktally.client.importers.keying import CLAUDE_EDIT_TOOLS, edit_pairs

TOOL = "claude-code"
EDIT_TOOLS = CLAUDE_EDIT_TOOLS
# ccusage 20 rejects a line in which one of these is JSON null.
_NOT_NULL_TOP = ("cwd", "sessionId", "version", "requestId", "costUSD", "isApiErrorMessage")
_NOT_NULL_MESSAGE = ("id", "model")
_NOT_NULL_USAGE = ("cache_read_input_tokens", "cache_creation_input_tokens", "speed")


@dataclass(frozen=True)
class UnkeyedEdit:
    """An edit call's (new, old) texts, held in memory only until its result line."""

    file_id: str
    repo_id: str | None
    session_id: str
    pairs: tuple[tuple[str, str], ...]
    ts: float

    def keyed(self, ctx: ImportContext) -> PendingEdit:
        keys: list[int] = []
        count = 0
        for new, old in self.pairs:
            k, n = ctx.new_keys(new, old)
            keys.extend(k)
            count += n
        return PendingEdit(file_id=self.file_id, repo_id=self.repo_id,
                           session_id=self.session_id, keys=tuple(keys), line_count=count,
                           ts=self.ts)


class ClaudeCodeParser:
    """Reads one transcript's lines in order; `state()` is what must survive to the next read."""

    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any]) -> None:
        self.ctx = ctx
        self.batch = batch
        self.pending = pending_from_state(state)
        # Calls of this read whose result has not come yet; keyed only if they succeed
        # (many edit calls are refused), which spares most of the hashing.
        self.unkeyed: dict[str, UnkeyedEdit] = {}
        self._repos: dict[str, str | None] = {}
        self._outside: str | None = None

    def _repo(self, cwd: str) -> str | None:
        """ctx.repo_for_cwd, remembered here: nearly every line names the same cwd. The
        last cwd found outside every repo is kept as `_outside`, so its lines skip this."""
        try:
            repo_id = self._repos[cwd]
        except KeyError:
            repo_id = self._repos[cwd] = self.ctx.repo_for_cwd(cwd)
        if repo_id is None:
            self._outside = cwd
        return repo_id

    def state(self) -> dict[str, Any]:
        # Text never outlives this read: calls still open are kept as line keys only.
        for call_id in list(self.unkeyed):
            self.pending[call_id] = [self.unkeyed.pop(call_id).keyed(self.ctx)]
        return {"pending": pending_to_state(self.pending)}

    def feed(self, line: bytes, offset: int) -> None:
        # The hot path of every import: one orjson parse, then only what this line needs.
        try:
            doc = orjson.loads(line)
        except ValueError:
            self.batch.malformed_lines += 1
            return
        if not isinstance(doc, dict):
            self.batch.malformed_lines += 1
            return
        get = doc.get
        ts = parse_ts(get("timestamp"))
        session_id = get("sessionId")
        cwd = get("cwd")
        if not isinstance(cwd, str) or not cwd:
            cwd = None
        if ts is not None and isinstance(session_id, str) and session_id:
            span = self.batch.spans.get(session_id)
            if span is None or (cwd is not None and not span[3]):
                repo_id = self._repo(cwd) if cwd else None
                self.batch.touch_session(session_id, ts, repo_id, cwd is not None)
            else:
                # Nearly every line: touch_session's work for a session already seen.
                if ts < span[0]:
                    span[0] = ts
                elif ts > span[1]:
                    span[1] = ts
                if span[2] is None and cwd is not None and cwd != self._outside:
                    span[2] = self._repo(cwd)
        message = get("message")
        if not isinstance(message, dict):
            return
        kind = get("type")
        # Byte tests before walking the content: most lines carry no usage and no tool call.
        # Usage counts whatever the line's type, as in ccusage 20 (real files write it on
        # assistant lines only; some synthetic ones have no type at all).
        if b'"usage"' in line:
            self._usage(doc, message, ts, offset)
        if kind == "assistant":
            if b'"tool_use"' in line and isinstance(session_id, str) and ts is not None:
                self._tool_uses(message, session_id, cwd, ts)
        elif kind == "user" and (self.pending or self.unkeyed) and b'"tool_result"' in line:
            self._tool_results(doc, message)

    def _usage(self, doc: dict[str, Any], message: dict[str, Any], ts: float | None,
               offset: int) -> None:
        usage = message.get("usage")
        if not isinstance(usage, dict) or ts is None:
            return
        get = usage.get
        inp: Any = get("input_tokens")
        out: Any = get("output_tokens")
        # type() is: orjson makes exact ints, and a bool is not a count.
        if type(inp) is not int or type(out) is not int or inp < 0 or out < 0:
            return
        if (None in map(doc.get, _NOT_NULL_TOP, _PRESENT)
                or None in map(message.get, _NOT_NULL_MESSAGE, _PRESENT)
                or None in map(get, _NOT_NULL_USAGE, _PRESENT)):
            self.batch.skipped["null_field"] += 1
            return
        cache_read: Any = get("cache_read_input_tokens") or 0
        cache_creation: Any = get("cache_creation_input_tokens") or 0
        split = get("cache_creation")
        if isinstance(split, dict):
            try:
                cache_creation = (split.get("ephemeral_5m_input_tokens") or 0) + (
                    split.get("ephemeral_1h_input_tokens") or 0
                )
            except TypeError:  # a string beside a number: not a count
                return
        if (type(cache_read) is not int or type(cache_creation) is not int
                or cache_read < 0 or cache_creation < 0):
            return  # not counts (type(): orjson makes exact ints, and a bool is not one)
        if inp == out == cache_read == cache_creation == 0:
            return  # `<synthetic>` API-error lines: no tokens, and no model worth listing
        session_id = doc.get("sessionId")
        message_id = message.get("id")
        request_id = doc.get("requestId")
        if isinstance(message_id, str) and message_id:
            usage_id = f"cc:{message_id}:{request_id if isinstance(request_id, str) else ''}"
        else:
            # ccusage never deduplicates a line without message.id; neither do we.
            usage_id = f"cc-line:{session_id}:{doc.get('uuid') or offset}"
        is_sidechain = bool(doc.get("isSidechain"))
        rows = self.batch.rows
        old = rows.get(usage_id)
        # A response is written as several lines; most copies lose (batch.row_beats).
        if old is not None and (
            (old[ROW_SIDECHAIN] == is_sidechain
             and inp + out + cache_creation + cache_read <= row_total(old))
            or (old[ROW_SIDECHAIN] != is_sidechain and not old[ROW_SIDECHAIN])
        ):
            return
        model = message.get("model")
        model = model if isinstance(model, str) and model else "unknown"
        if doc.get("speed") == "fast" or usage.get("speed") == "fast":
            model = f"{model}-fast"
        rows[usage_id] = (usage_id, str(session_id or ""), TOOL, model, ts, inp, out,
                          cache_creation, cache_read, is_sidechain, "transcript")

    def _tool_uses(self, message: dict[str, Any], session_id: str, cwd: str | None,
                   ts: float) -> None:
        content = message.get("content")
        if not isinstance(content, list):
            return
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "tool_use":
                continue
            name, call_id, args = block.get("name"), block.get("id"), block.get("input")
            if name not in EDIT_TOOLS or not isinstance(call_id, str) or not isinstance(
                args, dict
            ):
                continue
            edit = self._unkeyed_edit(str(name), args, session_id, cwd, ts)
            if edit is not None:
                self.unkeyed[call_id] = edit

    def _unkeyed_edit(self, name: str, args: dict[str, Any], session_id: str,
                      cwd: str | None, ts: float) -> UnkeyedEdit | None:
        found = edit_pairs(name, args)
        if found is None:
            return None
        path, pairs = found
        repo_id, file_id = self.ctx.file_ids(path, cwd)
        return UnkeyedEdit(file_id=file_id, repo_id=repo_id, session_id=session_id,
                           pairs=pairs, ts=ts)

    def _take(self, call_id: str) -> list[PendingEdit] | None:
        unkeyed = self.unkeyed.pop(call_id, None)
        if unkeyed is not None:
            return [unkeyed.keyed(self.ctx)]
        return self.pending.pop(call_id, None)

    def _tool_results(self, doc: dict[str, Any], message: dict[str, Any]) -> None:
        content = message.get("content")
        if not isinstance(content, list):
            return
        # On failure Claude Code stores the error text as a plain-string toolUseResult.
        result_is_error_text = isinstance(doc.get("toolUseResult"), str)
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            call_id = str(block.get("tool_use_id"))
            if call_id not in self.unkeyed and call_id not in self.pending:
                continue
            if block.get("is_error") is True or result_is_error_text:
                self.unkeyed.pop(call_id, None)
                self.pending.pop(call_id, None)
                self.batch.failed_tool_calls += 1
                continue
            pending = self._take(call_id)
            if pending is not None:
                self.batch.confirm(call_id, pending)


# `None in map(d.get, keys, _PRESENT)`: one of `keys` is present and JSON null (the default
# for an absent key is anything but None).
_PRESENT = (0,) * 8
