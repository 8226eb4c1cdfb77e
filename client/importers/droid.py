"""Droid, Factory's agent (`~/.factory/sessions/**`): per session a `<id>.settings.json` that
holds the session's running token account and a `<id>.jsonl` transcript.

Tokens: `tokenUsage` of the settings file (`inputTokens`, `outputTokens`,
`cacheCreationTokens`, `cacheReadTokens`, `thinkingTokens`), a running total that Droid
rewrites, stored as one record per session that a re-read replaces (the larger wins);
thinking is counted as output. The model is the settings' `model`, named as ccusage names it
(lower case, dots and spaces as dashes, a `custom:` prefix and bracketed notes dropped).
Edits come from the transcript: `Edit`, `MultiEdit`, `Create` and `ApplyPatch` tool uses
whose `tool_result` is not an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers.batch import (
    ImportBatch,
    PendingEdit,
    pending_from_state,
    pending_to_state,
)
from worktally.client.importers.codex import LineReader
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import (
    count,
    epoch,
    first_text,
    items,
    keyed_edit,
    name,
    patch_edits,
)

TOOL = "droid"
SETTINGS = ".settings.json"
_NEW = ("new_str", "new_string", "newString")
_OLD = ("old_str", "old_string", "oldString")
_PROVIDER_DEFAULTS = {"anthropic": "claude-unknown", "openai": "gpt-unknown",
                      "google": "gemini-unknown", "xai": "grok-unknown"}
_PROVIDERS = {"claude": "anthropic", "anthropic": "anthropic", "openai": "openai",
              "google": "google", "google_ai": "google", "gemini": "google", "vertex": "google",
              "vertex_ai": "google", "xai": "xai", "x_ai": "xai", "grok": "xai"}


def is_document(path: Path) -> bool:
    return path.name.endswith(SETTINGS)


def normalise_model(model: str) -> str:
    """Droid's model label as ccusage names it: `Claude Sonnet 4.5 [1M]` -> claude-sonnet-4-5."""
    raw = model.removeprefix("custom:")
    raw = re.sub(r"\[[^\]]*\]?", "", raw)
    lowered = raw.strip().rstrip("-").lower()
    return re.sub(r"-+", "-", re.sub(r"[.\s-]", "-", lowered)).strip("-")


def _sidecar_model(settings: Path) -> str | None:
    """The model named in the transcript's first lines (`Model: ...`), for old settings files."""
    transcript = settings.with_name(settings.name[: -len(SETTINGS)] + ".jsonl")
    try:
        with transcript.open("rb") as fh:
            for _, line in zip(range(500), fh, strict=False):
                _, found, tail = line.decode("utf-8", "replace").partition("Model:")
                if found:
                    model = normalise_model(re.split(r'["\\\[]', tail)[0])
                    if model:
                        return model
    except OSError:
        return None
    return None


def read_settings(ctx: ImportContext, batch: ImportBatch, path: Path,
                  state: dict[str, Any]) -> dict[str, Any]:
    try:
        doc = orjson.loads(path.read_bytes())
    except ValueError:
        batch.malformed_lines += 1
        return {}
    usage = doc.get("tokenUsage") if isinstance(doc, dict) else None
    if not isinstance(usage, dict):
        return {}
    tokens = [count(usage.get("inputTokens")),
              count(usage.get("outputTokens")) + count(usage.get("thinkingTokens")),
              count(usage.get("cacheCreationTokens")), count(usage.get("cacheReadTokens"))]
    total = count(usage.get("totalTokens"))
    if total > sum(tokens):
        tokens[1] += total - sum(tokens)
    if sum(tokens) == 0:
        return {}
    session_id = path.name[: -len(SETTINGS)]
    provider_raw = (name(doc.get("providerLock")) or "").lower().replace("-", "_")
    provider = _PROVIDERS.get(provider_raw, provider_raw)
    model = (normalise_model(name(doc.get("model")) or "") or _sidecar_model(path)
             or _PROVIDER_DEFAULTS.get(provider, "unknown"))
    ts = epoch(doc.get("providerLockTimestamp")) or path.stat().st_mtime
    usage_id = f"{TOOL}:{session_id}"
    batch.add_usage(TokenUsage(
        usage_id=usage_id, session_id=session_id, tool=TOOL, model=model,
        input_tokens=tokens[0], output_tokens=tokens[1], cache_creation_tokens=tokens[2],
        cache_read_tokens=tokens[3], ts=ts, event_id=usage_id,
    ))
    batch.touch_session(session_id, ts, None, False)
    return {}


class DroidLines:
    """One transcript read line by line; open edit calls wait, keyed, in `state()`."""

    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                 reread: LineReader, path: Path) -> None:
        self.ctx = ctx
        self.batch = batch
        self.session_id: str = state.get("session_id") or path.stem
        # The saved state names the line that gave the working folder, never the folder.
        self.cwd_offset: int | None = state.get("cwd_offset")
        self.cwd: str | None = None
        if self.cwd_offset is not None:
            line = reread(self.cwd_offset)
            try:
                record = orjson.loads(line) if line is not None else None
            except ValueError:
                record = None
            if isinstance(record, dict):
                self.cwd = name(record.get("cwd"))
        self.pending = pending_from_state(state)

    def state(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "cwd_offset": self.cwd_offset,
                "pending": pending_to_state(self.pending)}

    def feed(self, line: bytes, offset: int) -> None:
        record = self.batch.parse_line(line)
        if record is None:
            return
        if record.get("type") == "session_start":
            cwd = name(record.get("cwd"))
            if cwd is not None:
                self.cwd, self.cwd_offset = cwd, offset
            return
        message = record.get("message")
        ts = epoch(record.get("timestamp"))
        if record.get("type") != "message" or not isinstance(message, dict) or ts is None:
            return
        repo_id = self.ctx.repo_for_cwd(self.cwd) if self.cwd else None
        self.batch.touch_session(self.session_id, ts, repo_id, self.cwd is not None)
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                self._tool_use(block, ts)
            elif block.get("type") == "tool_result":
                self._tool_result(block)

    def _tool_use(self, block: dict[str, Any], ts: float) -> None:
        call_id, args, tool = name(block.get("id")), block.get("input"), block.get("name")
        if call_id is None or not isinstance(args, dict):
            return
        path = first_text(args, ("file_path", "path", "filePath"))
        edits: list[PendingEdit] = []
        if tool == "ApplyPatch":
            patch = first_text(args, ("input", "patch", "patchText"))
            edits = patch_edits(self.ctx, patch, self.cwd, self.session_id, ts) if patch else []
        elif tool == "Create" and path:
            pairs = [(first_text(args, ("content", "file_text")), "")]
            edits = [keyed_edit(self.ctx, path, self.cwd, self.session_id, pairs, ts)]
        elif tool == "Edit" and path:
            pairs = [(first_text(args, _NEW), first_text(args, _OLD))]
            edits = [keyed_edit(self.ctx, path, self.cwd, self.session_id, pairs, ts)]
        elif tool == "MultiEdit" and path:
            entries = items(args.get("edits"))
            pairs = [(first_text(e, _NEW), first_text(e, _OLD))
                     for e in entries if isinstance(e, dict)]
            edits = [keyed_edit(self.ctx, path, self.cwd, self.session_id, pairs, ts)]
        if edits:
            self.pending[call_id] = edits

    def _tool_result(self, block: dict[str, Any]) -> None:
        call_id = name(block.get("tool_use_id"))
        pending = self.pending.pop(call_id, None) if call_id else None
        if pending is None or call_id is None:
            return
        if block.get("is_error") is True:
            self.batch.failed_tool_calls += 1
            return
        self.batch.confirm(call_id, pending)
