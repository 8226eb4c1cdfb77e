"""Codex CLI rollouts (`sessions/**/rollout-*.jsonl`): sessions, token usage and patches.

`token_count` events carry running totals that are re-emitted unchanged, reset after a
compaction and replayed by forked sessions, so tokens are the deltas of the running total,
keyed by the total itself: a re-emit or a replayed copy has the same id and never doubles.
The legacy format (no envelope, no usage) still yields its sessions and patches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers import apply_patch
from worktally.client.importers.batch import (
    ImportBatch,
    PendingEdit,
    parse_ts,
    pending_from_state,
    pending_to_state,
)
from worktally.client.importers.context import ImportContext

TOOL = "codex"
FALLBACK_MODEL = "unknown"
# The fields of a running total, in the order stored in the state.
_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")

LineReader = Callable[[int], bytes | None]


class CodexParser:
    """Reads one rollout's lines in order; `state()` is what must survive to the next read.

    The state never holds the cwd itself: it keeps the byte offset of the line that set it,
    and re-reads that line when an import resumes.
    """

    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                 reread: LineReader | None = None) -> None:
        self.ctx = ctx
        self.batch = batch
        self.session_id: str | None = state.get("session_id")
        self.model: str = state.get("model") or FALLBACK_MODEL
        prev = state.get("prev")
        self.prev: tuple[int, ...] | None = tuple(prev) if prev else None
        self.last_ts: float | None = state.get("last_ts")
        self.cwd_offset: int | None = state.get("cwd_offset")
        self.cwd: str | None = None
        self.pending = pending_from_state(state)
        if self.cwd_offset is not None and reread is not None:
            line = reread(self.cwd_offset)
            if line is not None:
                self._restore_cwd(line)

    def state(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "model": self.model,
            "prev": list(self.prev) if self.prev else None, "last_ts": self.last_ts,
            "cwd_offset": self.cwd_offset,
            "pending": pending_to_state(self.pending),
        }

    def _restore_cwd(self, line: bytes) -> None:
        try:
            doc = orjson.loads(line)
        except ValueError:
            return
        payload = doc.get("payload") if isinstance(doc, dict) else None
        if isinstance(payload, dict) and isinstance(payload.get("cwd"), str):
            self.cwd = payload["cwd"]

    def feed(self, line: bytes, offset: int) -> None:
        doc = self.batch.parse_line(line)
        if doc is None:
            return
        ts = parse_ts(doc.get("timestamp"))
        if ts is not None:
            self.last_ts = ts
        payload = doc.get("payload")
        if isinstance(payload, dict):
            kind = doc.get("type")
        elif "record_type" in doc:
            return  # legacy state markers
        elif "type" not in doc and isinstance(doc.get("id"), str):
            kind, payload = "session_meta", doc  # legacy first line: bare session meta
        else:
            kind, payload = "response_item", doc  # legacy: bare Responses items
        if kind == "session_meta":
            self._session_meta(payload, offset, ts)
        elif kind == "turn_context":
            if isinstance(payload.get("model"), str) and payload["model"]:
                self.model = payload["model"]
            if isinstance(payload.get("cwd"), str) and payload["cwd"]:
                self.cwd, self.cwd_offset = payload["cwd"], offset
        elif kind == "event_msg" and payload.get("type") == "token_count":
            self._token_count(payload, ts)
        elif kind == "response_item":
            self._response_item(payload)
        if self.session_id is not None and self.last_ts is not None:
            repo_id = self.ctx.repo_for_cwd(self.cwd) if self.cwd else None
            self.batch.touch_session(self.session_id, self.last_ts, repo_id, self.cwd is not None)

    def _session_meta(self, payload: dict[str, Any], offset: int, ts: float | None) -> None:
        # A forked rollout lists the child's meta first, then copied ancestors: keep the first.
        if self.session_id is not None:
            return
        sid = payload.get("id") or payload.get("session_id")
        if not isinstance(sid, str) or not sid:
            return
        self.session_id = sid
        meta_ts = parse_ts(payload.get("timestamp"))
        if self.last_ts is None:
            self.last_ts = ts if ts is not None else meta_ts
        if isinstance(payload.get("cwd"), str) and payload["cwd"]:
            self.cwd, self.cwd_offset = payload["cwd"], offset

    def _token_count(self, payload: dict[str, Any], ts: float | None) -> None:
        info = payload.get("info")
        if not isinstance(info, dict):
            return
        total = _counts(info.get("total_token_usage"))
        last = _counts(info.get("last_token_usage"))
        if total is None:
            return
        if self.prev is not None and total == self.prev:
            return  # a re-emit (rate-limit refresh) of the same running total
        if self.prev is None or any(t < p for t, p in zip(total, self.prev, strict=True)):
            # First total of this file, or a reset: only the last request is new here. A
            # fork's replayed history thus starts from the parent's own last request.
            delta = last if last is not None else total
        else:
            delta = tuple(t - p for t, p in zip(total, self.prev, strict=True))
        self.prev = total
        inp, cached, out, _reasoning = delta
        cached = min(cached, inp)
        if inp + out == 0:
            return
        # No session in the id: a fork's replay and an archived copy must collide with the
        # original. Two unrelated sessions whose running total and last request match
        # exactly would collide too; that needs identical token counts, which we accept.
        digest = hashlib.sha256(json.dumps([total, last]).encode()).hexdigest()[:24]
        when = ts if ts is not None else (self.last_ts or 0.0)
        self.batch.add_usage(
            TokenUsage(
                usage_id=f"codex:{digest}", session_id=self.session_id or "", tool=TOOL,
                model=self.model, input_tokens=inp - cached, output_tokens=out,
                cache_creation_tokens=0, cache_read_tokens=cached, ts=when,
                event_id=f"codex:{digest}",
            )
        )

    def _response_item(self, payload: dict[str, Any]) -> None:
        item = payload.get("type")
        call_id = payload.get("call_id")
        if not isinstance(call_id, str):
            return
        if item in ("function_call_output", "custom_tool_call_output"):
            pending = self.pending.pop(call_id, None)
            if pending is None:
                return
            if apply_patch.output_failed(payload.get("output")):
                self.batch.failed_tool_calls += 1
            else:
                self.batch.confirm(call_id, pending)
            return
        patch: str | None = None
        workdir: str | None = None
        if item == "function_call":
            found = apply_patch.patch_from_shell(payload.get("arguments"))
            if found is not None:
                patch, workdir = found
        elif item == "custom_tool_call" and payload.get("name") == "apply_patch":
            patch = payload.get("input") if isinstance(payload.get("input"), str) else None
        if patch is not None:
            self._pending_patch(call_id, patch, workdir or self.cwd)

    def _pending_patch(self, call_id: str, patch: str, cwd: str | None) -> None:
        edits: list[PendingEdit] = []
        when = self.last_ts or 0.0
        for patched in apply_patch.parse_patch(patch):
            keys, count = self.ctx.new_keys("\n".join(patched.added))
            repo_id, file_id = self.ctx.file_ids(patched.path, cwd)
            edits.append(PendingEdit(file_id=file_id, repo_id=repo_id,
                                     session_id=self.session_id or "", keys=keys,
                                     line_count=count, ts=when))
        if edits:
            self.pending[call_id] = edits


def _counts(raw: Any) -> tuple[int, ...] | None:
    if not isinstance(raw, dict):
        return None
    values = tuple(raw.get(f) or 0 for f in _FIELDS)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        return None
    return values
