"""GitHub Copilot CLI's OpenTelemetry file export (`~/.copilot/otel/*.jsonl`, or the file
`$COPILOT_OTEL_FILE_EXPORTER_PATH` names): token usage per model request.

One JSON object per line: spans (`type: span`, `traceId`, `spanId`, `name`, `startTime` /
`endTime` as `[seconds, nanoseconds]`, flat `attributes`) and log records (`hrTime`,
`attributes`, `_body`). Usage appears at several levels of the same trace: a `chat <model>`
span per request, an inference-details log per request, an agent-turn log, and the
`invoke_agent` span that sums a whole turn. As ccusage does, the finest level present wins:
a chat span always counts; the others only when no finer record names the same trace or
response. A chat span and an inference log of the same response share one id.

The file is read whole when it changes (the suppression needs the whole trace); records keep
stable ids, so a re-read changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import count, epoch, hr_time, name

TOOL = "copilot-cli"
# Finest first: a level counts only when no finer level names the same trace or response.
CHAT, INFERENCE, TURN, SUMMARY = range(4)
_MODEL_ATTRS = ("gen_ai.response.model", "gen_ai.request.model")
_SESSION_ATTRS = (  # by priority: a conversation id beats an interaction, beats a response
    ("gen_ai.conversation.id", 3), ("copilot_chat.session_id", 3),
    ("copilot_chat.chat_session_id", 3), ("session.id", 3),
    ("github.copilot.interaction_id", 2), ("gen_ai.response.id", 1),
)


@dataclass(frozen=True)
class _Candidate:
    level: int
    trace: str | None
    span: str | None
    response: str | None
    model: str | None
    session: str | None
    ts: float | None
    tokens: tuple[int, int, int, int]  # input without cache, output, cache write, cache read
    index: int


def _is_span(record: dict[str, Any]) -> bool:
    if isinstance(record.get("type"), str):
        return bool(record["type"] == "span")
    return name(record.get("name")) is not None and any(
        key in record for key in ("spanId", "traceId", "startTime", "endTime", "kind")
    )


def _level(record: dict[str, Any], attrs: dict[str, Any]) -> int | None:
    operation = attrs.get("gen_ai.operation.name")
    span_name = name(record.get("name")) or ""
    body = name(record.get("body")) or name(record.get("_body")) or ""
    event = attrs.get("event.name")
    if _is_span(record):
        if operation == "chat" or span_name.startswith("chat "):
            return CHAT
        if operation == "invoke_agent" or span_name.startswith("invoke_agent"):
            return SUMMARY
        return None
    if event == "gen_ai.client.inference.operation.details" or body.startswith(
        "GenAI inference:"
    ):
        return INFERENCE
    if event == "copilot_chat.agent.turn" or body.startswith("copilot_chat.agent.turn"):
        return TURN
    return None


def _first_count(attrs: dict[str, Any], keys: tuple[str, ...]) -> int:
    for key in keys:
        value = count(attrs.get(key))
        if value:
            return value
    return 0


def usage_tokens(attrs: dict[str, Any]) -> tuple[int, int, int, int] | None:
    """(input without cache, output, cache write, cache read) of a record's attributes."""
    inp = count(attrs.get("gen_ai.usage.input_tokens"))
    out = count(attrs.get("gen_ai.usage.output_tokens"))
    read = count(attrs.get("gen_ai.usage.cache_read.input_tokens"))
    write = _first_count(attrs, ("gen_ai.usage.cache_write.input_tokens",
                                 "gen_ai.usage.cache_creation.input_tokens"))
    total = _first_count(attrs, ("gen_ai.usage.total_tokens", "gen_ai.usage.total.token_count"))
    # input_tokens includes the cache reads, and output_tokens the reasoning tokens
    # (`gen_ai.usage.reasoning.output_tokens` is a part of it, not more): OpenAI semantics,
    # which ccusage 20.0.24 follows too.
    tokens = [inp - min(inp, read), out, write, read]
    if total > sum(tokens):
        tokens[1] += total - sum(tokens)
    if sum(tokens) == 0:
        return None
    return tokens[0], tokens[1], tokens[2], tokens[3]


def _ids(record: dict[str, Any], key: str) -> str | None:
    value = name(record.get(key))
    context = record.get("spanContext")
    if value is None and isinstance(context, dict):
        value = name(context.get(key))
    return value


def _timestamp(record: dict[str, Any]) -> float | None:
    for key in ("endTime", "startTime", "hrTime", "_hrTime", "time"):
        ts = hr_time(record.get(key))
        if ts is not None:
            return ts
    for key in ("timestamp", "observedTimestamp", "timeUnixNano"):
        ts = epoch(record.get(key))
        if ts is not None:
            return ts
    return None


def _session(attrs: dict[str, Any]) -> tuple[str | None, int]:
    best: tuple[str | None, int] = (None, 0)
    for key, priority in _SESSION_ATTRS:
        value = name(attrs.get(key))
        if value is not None and priority > best[1]:
            best = (value, priority)
    return best


def read_export(ctx: ImportContext, batch: ImportBatch, path: Path,
                state: dict[str, Any]) -> dict[str, Any]:
    """Every request's usage in one export file (read whole; see the module docstring)."""
    trace_model: dict[str, str] = {}
    trace_session: dict[str, tuple[str | None, int]] = {}
    candidates: list[_Candidate] = []
    for index, line in enumerate(path.read_bytes().splitlines()):
        if b'"attributes"' not in line:
            continue
        record = batch.parse_line(line)
        attrs = record.get("attributes") if record is not None else None
        if record is None or not isinstance(attrs, dict):
            continue
        trace = _ids(record, "traceId")
        model = next((m for m in map(name, map(attrs.get, _MODEL_ATTRS)) if m), None)
        session = _session(attrs)
        if trace is not None:
            if model and trace not in trace_model:
                trace_model[trace] = model
            if session[1] > trace_session.get(trace, (None, 0))[1]:
                trace_session[trace] = session
        level = _level(record, attrs)
        tokens = usage_tokens(attrs) if level is not None else None
        if level is None or tokens is None:
            continue
        candidates.append(_Candidate(
            level=level, trace=trace, span=_ids(record, "spanId"),
            response=name(attrs.get("gen_ai.response.id")), model=model, session=session[0],
            ts=_timestamp(record), tokens=tokens, index=index,
        ))
    fallback = path.stat().st_mtime
    suppressed = _suppressor(candidates)
    for cand in candidates:
        if suppressed(cand):
            continue
        model = cand.model or (trace_model.get(cand.trace) if cand.trace else None) or "unknown"
        traced = trace_session.get(cand.trace, (None, 0))[0] if cand.trace else None
        session_id = cand.session or traced or cand.trace or "unknown-session"
        ts = cand.ts or fallback
        usage_id = _usage_id(cand, session_id, ts)
        inp, out, write, read = cand.tokens
        batch.add_usage(TokenUsage(
            usage_id=usage_id, session_id=session_id, tool=TOOL, model=model, input_tokens=inp,
            output_tokens=out, cache_creation_tokens=write, cache_read_tokens=read, ts=ts,
            event_id=usage_id,
        ))
        batch.touch_session(session_id, ts, None, False)
    return {}


def _suppressor(candidates: list[_Candidate]) -> Callable[[_Candidate], bool]:
    """Whether a candidate is covered by a finer record of the same trace or response."""
    traces: list[set[str]] = [set() for _ in range(SUMMARY + 1)]
    responses: list[set[str]] = [set() for _ in range(SUMMARY + 1)]
    for cand in candidates:
        if cand.trace is not None:
            traces[cand.level].add(cand.trace)
        if cand.response is not None:
            responses[cand.level].add(cand.response)

    def suppressed(cand: _Candidate) -> bool:
        return any(
            (cand.trace is not None and cand.trace in traces[finer])
            or (cand.response is not None and cand.response in responses[finer])
            for finer in range(cand.level)
        )

    return suppressed


def _usage_id(cand: _Candidate, session: str, ts: float) -> str:
    if cand.level in (CHAT, INFERENCE) and cand.response:
        return f"{TOOL}:resp:{cand.response}"
    if cand.trace and cand.span:
        return f"{TOOL}:span:{cand.trace}:{cand.span}"
    digest = hashlib.sha256(orjson.dumps([cand.level, session, ts, cand.index, cand.tokens]))
    return f"{TOOL}:rec:{digest.hexdigest()[:24]}"
