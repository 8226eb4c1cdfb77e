"""Gemini CLI sessions (`~/.gemini/tmp/<project>/chats/`): sessions, token usage and edits.

Two generations: `session-*.json` documents that the CLI rewrote whole, and (since about
0.40) `session-*.jsonl` logs where a header line is followed by one line per message and
`$set` / `$rewindTo` lines; a message is appended again, whole, each time it changes (tool
calls added, tokens attached). Resuming an old `.json` session copies all its messages into a
new `.jsonl` beside it, so the same message can sit in two files: tokens are keyed by
(session, message id) and counted once. Subagents write their own files under
`chats/<parent session>/`.

Tokens follow Gemini's own fields: `input` (the prompt, cached tokens included), `cached`,
`output`, `thoughts` and `tool` (tool-use prompt). Stored as input = input - cached + tool,
cache read = cached and output = output + thoughts (thinking is billed as output).
Edits: `write_file` (content) and `replace` (old/new string) calls whose status is success.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.codex import LineReader
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import count, epoch, keyed_edit, name, text

TOOL = "gemini-cli"
_INPUT = ("input", "prompt", "input_tokens", "prompt_tokens")
_OUTPUT = ("output", "candidates", "output_tokens", "candidates_tokens")
_CACHED = ("cached", "cached_tokens")
_THOUGHTS = ("thoughts", "reasoning", "thoughts_tokens", "reasoning_tokens")
_TOOL_TOKENS = ("tool", "tool_tokens")


def wanted(path: Path) -> bool:
    """Session files live under a `chats/` folder; `logs.json` beside it holds prompts only."""
    return "chats" in path.parts


def is_document(path: Path) -> bool:
    return path.suffix == ".json"


@cache
def _project_root(project_dir: Path) -> str | None:
    """The project folder the CLI recorded for a temp folder (`.project_root`, newer CLIs)."""
    try:
        value = (project_dir / ".project_root").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value or None


def _session_cwd(path: Path) -> str | None:
    parts = path.parts
    if "chats" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("chats")
    return _project_root(Path(*parts[:index]))


def _first(tokens: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for key in names:
        if key in tokens and tokens[key] is not None:
            return count(tokens[key])
    return None


def token_fields(tokens: Any) -> tuple[int, int, int] | None:
    """(input without cache, output with thoughts, cache read) of a `tokens` object."""
    if not isinstance(tokens, dict):
        return None
    inp = _first(tokens, _INPUT) or 0
    out = _first(tokens, _OUTPUT) or 0
    cached = _first(tokens, _CACHED) or 0
    thoughts = _first(tokens, _THOUGHTS) or 0
    tool = _first(tokens, _TOOL_TOKENS) or 0
    total = tokens.get("total", tokens.get("total_tokens"))
    total = count(total) if total is not None else None
    inclusive = inp + out + thoughts + tool
    # `input` includes the cached tokens; a total equal to the sum without cache proves it.
    # Only a total that counts the cache on top (a different writer) leaves input alone.
    if cached and total != inclusive + cached:
        inp -= min(inp, cached)
    input_tokens = inp + tool
    output_tokens = out + thoughts
    if total is not None and total > input_tokens + output_tokens + cached:
        output_tokens += total - (input_tokens + output_tokens + cached)
    if input_tokens == output_tokens == cached == 0:
        return None
    return input_tokens, output_tokens, cached


class _Session:
    """What one session file establishes before its messages: ids, model, folder, times."""

    def __init__(self, ctx: ImportContext, batch: ImportBatch, path: Path,
                 state: dict[str, Any]) -> None:
        self.ctx = ctx
        self.batch = batch
        self.path = path
        self.session_id: str = state.get("session_id") or path.stem
        self.model: str | None = state.get("model")
        self.start: float | None = state.get("start")
        self.cwd = _session_cwd(path)
        self.repo_id = ctx.repo_for_cwd(self.cwd) if self.cwd else None

    def state(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "model": self.model, "start": self.start}

    def metadata(self, record: dict[str, Any]) -> None:
        sid = name(record.get("sessionId")) or name(record.get("session_id"))
        if sid is not None:
            self.session_id = sid
        start = epoch(record.get("startTime"))
        if start is not None:
            self.start = self.start if self.start is not None else start
            self._touch(start)
        updated = epoch(record.get("lastUpdated"))
        if updated is not None:
            self._touch(updated)

    def _touch(self, ts: float) -> None:
        self.batch.touch_session(self.session_id, ts, self.repo_id, self.cwd is not None)

    def message(self, record: dict[str, Any], fallback_ts: float) -> None:
        model = name(record.get("model"))
        if model is not None:
            self.model = model
        if record.get("type") != "gemini":
            ts = epoch(record.get("timestamp"))
            if ts is not None:
                self._touch(ts)
            return
        ts = epoch(record.get("timestamp")) or epoch(record.get("created_at")) or fallback_ts
        self._touch(ts)
        self._usage(record, model or self.model, ts)
        calls = record.get("toolCalls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    self._tool_call(call, ts)

    def _usage(self, record: dict[str, Any], model: str | None, ts: float) -> None:
        fields = token_fields(record.get("tokens"))
        if fields is None:
            return
        if model is None:
            # ccusage drops a usage with no model; so do we, and count it.
            self.batch.skipped["no_model"] += 1
            return
        message_id = name(record.get("id"))
        if message_id is not None:
            usage_id = f"{TOOL}:{self.session_id}:{message_id}"
        else:
            digest = hashlib.sha256(json.dumps([self.session_id, ts, fields]).encode())
            usage_id = f"{TOOL}:{self.session_id}:h{digest.hexdigest()[:20]}"
        inp, out, cached = fields
        # The writer appends a message again whenever it changes: the last copy is current.
        self.batch.put_usage(TokenUsage(
            usage_id=usage_id, session_id=self.session_id, tool=TOOL, model=model,
            input_tokens=inp, output_tokens=out, cache_read_tokens=cached, ts=ts,
            event_id=usage_id,
        ))

    def _tool_call(self, call: dict[str, Any], ts: float) -> None:
        tool_name = call.get("name")
        call_id = name(call.get("id"))
        args = call.get("args")
        if tool_name not in ("write_file", "replace") or call_id is None or not isinstance(
            args, dict
        ):
            return
        status = call.get("status")
        if status != "success":
            if status in ("error", "cancelled"):
                self.batch.failed_tool_calls += 1
            return
        path = name(args.get("file_path")) or name(args.get("absolute_path"))
        if path is None:
            return
        if tool_name == "write_file":
            pairs = [(text(args.get("content")), "")]
        else:
            pairs = [(text(args.get("new_string")), text(args.get("old_string")))]
        when = epoch(call.get("timestamp")) or ts
        edit = keyed_edit(self.ctx, path, self.cwd, self.session_id, pairs, when)
        self.batch.confirm(call_id, [edit])


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class GeminiLines:
    """A `.jsonl` session read line by line; `state()` carries the session id and model."""

    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                 reread: LineReader, path: Path) -> None:
        self._session = _Session(ctx, batch, path, state)
        self._fallback = _mtime(path)

    @property
    def batch(self) -> ImportBatch:
        return self._session.batch

    @batch.setter
    def batch(self, value: ImportBatch) -> None:
        self._session.batch = value

    def state(self) -> dict[str, Any]:
        return self._session.state()

    def feed(self, line: bytes, offset: int) -> None:
        record = self.batch.parse_line(line)
        if record is None:
            return
        if "$set" in record or "$rewindTo" in record:
            meta = record.get("$set")
            if isinstance(meta, dict):
                self._session.metadata(meta)
            return  # a rewind hides messages from the CLI; their tokens were still spent
        if "id" not in record and ("sessionId" in record or "projectHash" in record):
            self._session.metadata(record)
            return
        self._session.message(record, self._session.start or self._fallback)


def read_json_session(ctx: ImportContext, batch: ImportBatch, path: Path,
                      state: dict[str, Any]) -> dict[str, Any]:
    """A legacy `.json` session document, read whole."""
    try:
        doc = orjson.loads(path.read_bytes())
    except ValueError:
        batch.malformed_lines += 1
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        return {}
    session = _Session(ctx, batch, path, {})
    session.metadata(doc)
    fallback = session.start or epoch(doc.get("lastUpdated")) or _mtime(path)
    for message in doc["messages"]:
        if isinstance(message, dict):
            # In a document each message names its own model; none is carried over.
            session.model = None
            session.message(message, fallback)
    return {}
