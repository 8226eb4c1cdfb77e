"""Aider: exact tokens from its analytics log, edits from its chat history.

The analytics log (`--analytics-log FILE`, conventionally `~/.aider/analytics.jsonl`) is one
JSON event per line; every `message_send` carries `main_model`, `prompt_tokens`,
`completion_tokens` and the session's running `total_cost`, and a `launched` event starts a
run. Those are Aider's own exact counts (the `> Tokens: 4.5k sent` lines of the chat history
are rounded and are not read). Aider reports no cache split: prompt tokens are stored as
input. The anonymous analytics `user_id` is never read.

The chat history (`.aider.chat.history.md`, in the repository Aider ran in) is Markdown: a
`# aider chat started at <local time>` heading per run, `#### ` user lines, the model's
reply, and `> ` lines of Aider's own output. A reply's SEARCH/REPLACE blocks, whole-file
blocks, unified diffs and `*** Begin Patch` envelopes name the new text per file; a later
`> Applied edit to <path>` confirms the file was written. Parsing lives in
`aider_history.py`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers.aider_history import HistoryParser
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.codex import LineReader
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import count, epoch, name

TOOL = "aider"
HISTORY_SUFFIX = ".md"


def wanted(path: Path) -> bool:
    if path.suffix == HISTORY_SUFFIX:
        return path.name.endswith("chat.history.md")
    return "analytics" in path.name


class AnalyticsParser:
    """One analytics log read line by line; the current run survives in `state()`."""

    def __init__(self, batch: ImportBatch, state: dict[str, Any]) -> None:
        self.batch = batch
        self.session_id: str | None = state.get("session_id")

    def state(self) -> dict[str, Any]:
        return {"session_id": self.session_id}

    def feed(self, line: bytes, offset: int) -> None:
        record = self.batch.parse_line(line)
        if record is None:
            return
        ts = epoch(record.get("time"))
        event = record.get("event")
        if ts is None or not isinstance(event, str):
            return
        if event == "launched" or self.session_id is None:
            self.session_id = f"{TOOL}:run:{int(ts)}"
        self.batch.touch_session(self.session_id, ts, None, False)
        props = record.get("properties")
        if event != "message_send" or not isinstance(props, dict):
            return
        prompt = count(props.get("prompt_tokens"))
        completion = count(props.get("completion_tokens"))
        total = count(props.get("total_tokens"))
        if total > prompt + completion:
            completion += total - (prompt + completion)
        if prompt + completion == 0:
            return
        model = name(props.get("main_model"))
        model = model if model and model != "None" else "unknown"
        # The running session cost makes otherwise equal messages of one run distinct, and
        # a copy of the log (the same events) collide with the original.
        key = orjson.dumps([int(ts), model, prompt, completion, props.get("total_cost")])
        usage_id = f"{TOOL}:{hashlib.sha256(key).hexdigest()[:24]}"
        self.batch.add_usage(TokenUsage(
            usage_id=usage_id, session_id=self.session_id, tool=TOOL, model=model,
            input_tokens=prompt, output_tokens=completion, ts=ts, event_id=usage_id,
        ))


class AiderLines:
    """Dispatches on the file: the chat history (Markdown) or an analytics log (JSONL)."""

    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                 reread: LineReader, path: Path) -> None:
        self._inner: HistoryParser | AnalyticsParser
        if path.suffix == HISTORY_SUFFIX:
            self._inner = HistoryParser(ctx, batch, state, path, TOOL)
        else:
            self._inner = AnalyticsParser(batch, state)

    @property
    def wants_blank_lines(self) -> bool:
        """Markdown's blank lines are part of a fenced block (JSON logs skip them)."""
        return isinstance(self._inner, HistoryParser)

    @property
    def batch(self) -> ImportBatch:
        return self._inner.batch

    @batch.setter
    def batch(self, value: ImportBatch) -> None:
        self._inner.batch = value

    def feed(self, line: bytes, offset: int) -> None:
        self._inner.feed(line, offset)

    def state(self) -> dict[str, Any]:
        return self._inner.state()
