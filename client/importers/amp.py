"""Amp threads (`~/.local/share/amp/threads/T-<uuid>.json`): sessions, token usage and edits.

A thread is one JSON document that Amp rewrites as the conversation grows, so it is read
whole when it changes; every record keeps an id within its thread, so a re-read replaces
rows instead of adding to them.

Tokens, as ccusage reads them: the `usageLedger.events` when the thread has a ledger (each
event's `tokens{input, output, total}`, with the cache split taken from the assistant message
the event points at, `toMessageId`), else each assistant message's `usage` (`inputTokens`,
`outputTokens`, `cacheCreationInputTokens`, `cacheReadInputTokens`, `totalTokens`).
Edits: `edit_file` / `create_file` tool uses whose `tool_result` ran to `done`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import (
    count,
    epoch,
    first_text,
    keyed_edit,
    name,
    obj,
)

TOOL = "amp"
_FAILED = ("error", "cancelled", "rejected-by-user", "rejected")


def wanted(path: Path) -> bool:
    return path.parent.name == "threads" or path.name.startswith("T-")


def _cwd(doc: dict[str, Any]) -> str | None:
    """The thread's first workspace folder, from its environment's `file://` tree."""
    env = obj(doc.get("env"))
    initial = obj(env.get("initial"))
    for tree in initial.get("trees") or []:
        uri = name(tree.get("uri")) if isinstance(tree, dict) else None
        if uri and uri.startswith("file://"):
            return unquote(urlparse(uri).path) or None
    return None


def _tokens(inp: int, out: int, write: int, read: int, total: int) -> tuple[int, ...] | None:
    # A total larger than the parts (a ledger without a split) is output, as ccusage does.
    if total > inp + out + write + read:
        out += total - (inp + out + write + read)
    return (inp, out, write, read) if inp + out + write + read else None


def read_thread(ctx: ImportContext, batch: ImportBatch, path: Path,
                state: dict[str, Any]) -> dict[str, Any]:
    try:
        doc = orjson.loads(path.read_bytes())
    except ValueError:
        batch.malformed_lines += 1
        return {}
    if not isinstance(doc, dict):
        return {}
    thread = name(doc.get("id"))
    if thread is None:
        return {}
    messages = [m for m in doc.get("messages") or [] if isinstance(m, dict)]
    cwd = _cwd(doc)
    repo_id = ctx.repo_for_cwd(cwd) if cwd else None
    created = epoch(doc.get("created"))
    if created is not None:
        batch.touch_session(thread, created, repo_id, cwd is not None)
    ledger = doc.get("usageLedger")
    events = ledger.get("events") if isinstance(ledger, dict) else None
    if isinstance(events, list):
        _ledger(batch, thread, events, messages, repo_id, cwd is not None)
    else:
        _message_usage(batch, thread, messages, repo_id, cwd is not None)
    _edits(ctx, batch, thread, messages, cwd, created or 0.0)
    return {}


def _ledger(batch: ImportBatch, thread: str, events: list[Any], messages: list[dict[str, Any]],
            repo_id: str | None, has_cwd: bool) -> None:
    cache: dict[int, tuple[int, int]] = {}
    for message in messages:
        usage = message.get("usage")
        if message.get("role") == "assistant" and isinstance(message.get("messageId"), int):
            usage = usage if isinstance(usage, dict) else {}
            cache[message["messageId"]] = (count(usage.get("cacheCreationInputTokens")),
                                           count(usage.get("cacheReadInputTokens")))
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("tokens"), dict):
            continue
        ts, model = epoch(event.get("timestamp")), name(event.get("model"))
        if ts is None or model is None:
            continue
        tokens = event["tokens"]
        target = event.get("toMessageId")
        write, read = cache.get(target, (0, 0)) if isinstance(target, int) else (0, 0)
        found = _tokens(count(tokens.get("input")), count(tokens.get("output")), write, read,
                        count(tokens.get("total")))
        if found is None:
            continue
        event_id = name(event.get("id")) or f"e{index}"
        _store(batch, f"{TOOL}:{thread}:{event_id}", thread, model, found, ts)
        batch.touch_session(thread, ts, repo_id, has_cwd)


def _message_usage(batch: ImportBatch, thread: str, messages: list[dict[str, Any]],
                   repo_id: str | None, has_cwd: bool) -> None:
    for index, message in enumerate(messages):
        usage = message.get("usage")
        if message.get("role") != "assistant" or not isinstance(usage, dict):
            continue
        ts = epoch(usage.get("timestamp")) or epoch(message.get("timestamp"))
        model = name(usage.get("model")) or name(message.get("model"))
        if ts is None or model is None:
            continue
        found = _tokens(count(usage.get("inputTokens")), count(usage.get("outputTokens")),
                        count(usage.get("cacheCreationInputTokens")),
                        count(usage.get("cacheReadInputTokens")),
                        count(usage.get("totalTokens")))
        if found is None:
            continue
        message_id = message.get("messageId")
        suffix = f"m{message_id}" if isinstance(message_id, int | str) else f"i{index}"
        _store(batch, f"{TOOL}:{thread}:{suffix}", thread, model, found, ts)
        batch.touch_session(thread, ts, repo_id, has_cwd)


def _store(batch: ImportBatch, usage_id: str, thread: str, model: str,
           tokens: tuple[int, ...], ts: float) -> None:
    inp, out, write, read = tokens
    batch.add_usage(TokenUsage(
        usage_id=usage_id, session_id=thread, tool=TOOL, model=model, input_tokens=inp,
        output_tokens=out, cache_creation_tokens=write, cache_read_tokens=read, ts=ts,
        event_id=usage_id,
    ))


def _edits(ctx: ImportContext, batch: ImportBatch, thread: str,
           messages: list[dict[str, Any]], cwd: str | None, fallback: float) -> None:
    outcome: dict[str, bool] = {}
    for message in messages:
        for block in message.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                call_id = name(block.get("toolUseID")) or name(block.get("tool_use_id"))
                run = obj(block.get("run")) or block
                if call_id is not None:
                    outcome[call_id] = run.get("status") == "done"
                    if run.get("status") in _FAILED:
                        batch.failed_tool_calls += 1
    for message in messages:
        usage = obj(message.get("usage"))
        ts = epoch(usage.get("timestamp")) or epoch(message.get("timestamp")) or fallback
        for block in message.get("content") or []:
            if not isinstance(block, dict) or block.get("type") != "tool_use":
                continue
            call_id, args = name(block.get("id")), block.get("input")
            if call_id is None or not outcome.get(call_id) or not isinstance(args, dict):
                continue
            path = first_text(args, ("path", "file_path"))
            if not path:
                continue
            if block.get("name") == "create_file":
                pairs = [(first_text(args, ("content",)), "")]
            elif block.get("name") == "edit_file":
                pairs = [(first_text(args, ("new_str", "new_string")),
                          first_text(args, ("old_str", "old_string")))]
            else:
                continue
            batch.confirm(call_id, [keyed_edit(ctx, path, cwd, thread, pairs, ts)])
