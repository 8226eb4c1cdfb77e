"""What an AI tool's hook reports becomes spool records at once: the lines an agent just wrote,
keyed (never kept as text), and the session they belong to.

Claude Code's `PostToolUse` hook carries the same tool input the transcript will hold, so the
edit is keyed exactly as the transcript importer keys it (`keying.py`) and gets the same event
id, `edit_event_id("claude-code", tool_use_id, file_id)`: whichever of the two arrives first is
stored and the other is a no-op. Cursor's `afterFileEdit` (agent) and `afterTabFileEdit` (Tab
completion) hooks are Cursor's only record of its AI edits.

Records are built as the spool's JSON objects directly (`capture/records.py::to_dict` gives
the same ones; a test holds them equal): the hook runs on every edit, and the record classes
would import `dataclasses`, which costs a third of the hook's time budget.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.importers.keying import (
    CLAUDE_EDIT_TOOLS,
    Repos,
    containing,
    edit_event_id,
    edit_pairs,
    file_ids,
    new_keys,
    normal,
)

CLAUDE = "claude-code"
CURSOR = "cursor"
# How much of a transcript's end is searched for a tool call's id when the hook omits it.
TRANSCRIPT_TAIL_BYTES = 512 * 1024

ToolUseFinder = Callable[[str, str, dict[str, Any]], str | None]


def _name(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def edit_record(keyer: LineKeyer, repos: Repos, *, tool: str, kind: str, call_id: str,
                path: str, cwd: str | None, session_id: str | None,
                pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]], origin: str,
                now: float) -> dict[str, Any] | None:
    """The `edit` record of one call's write to one file, or None when no line is keyed."""
    keys: list[int] = []
    count = 0
    for new, old in pairs:
        k, n = new_keys(keyer, new, old)
        keys.extend(k)
        count += n
    if not keys:
        return None
    repo_id, file_id = file_ids(keyer, repos, path, cwd)
    return {"source": "ai", "keys": keys, "file_id": file_id, "repo_id": repo_id,
            "language": "", "tool": tool, "kind": kind, "model": None,
            "session_id": session_id, "line_count": count, "origin": origin, "ts": now,
            "event_id": edit_event_id(tool, call_id, file_id), "supersedes": None,
            "type": "edit"}


def session_record(repos: Repos, tool: str, session_id: str, cwd: str | None,
                   now: float) -> dict[str, Any]:
    """An `ai_session` record seen at `now` (the store widens the session's span)."""
    repo = containing(repos, normal(cwd)) if cwd else None
    return {"session_id": session_id, "tool": tool, "kind": "agent",
            "repo_id": repo[0] if repo else None, "started_at": now, "ended_at": now,
            "has_cwd": cwd is not None, "ts": now, "event_id": os.urandom(16).hex(),
            "type": "ai_session"}


def claude_code(keyer: LineKeyer, repos: Repos, payload: dict[str, Any], now: float,
                find_tool_use: ToolUseFinder | None = None) -> list[dict[str, Any]]:
    """Records for one PostToolUse payload of an edit tool; [] for anything else."""
    tool_name = payload.get("tool_name")
    args = payload.get("tool_input")
    session_id = _name(payload.get("session_id"))
    if tool_name not in CLAUDE_EDIT_TOOLS or not isinstance(args, dict) or session_id is None:
        return []
    if payload.get("hook_event_name", "PostToolUse") != "PostToolUse":
        return []
    response = payload.get("tool_response")
    if isinstance(response, str) and response.lstrip().lower().startswith("error"):
        return []  # a failed call answers with an error text, as in the transcript
    found = edit_pairs(str(tool_name), args)
    if found is None:
        return []
    cwd = _name(payload.get("cwd"))
    call_id = _name(payload.get("tool_use_id"))
    if call_id is None and find_tool_use is not None:
        transcript = _name(payload.get("transcript_path")) or ""
        call_id = find_tool_use(transcript, str(tool_name), args)
    if call_id is None:
        return []  # without the call's id the importer's record would double this one
    path, pairs = found
    records = [session_record(repos, CLAUDE, session_id, cwd, now)]
    edit = edit_record(keyer, repos, tool=CLAUDE, kind="agent", call_id=call_id, path=path,
                       cwd=cwd, session_id=session_id, pairs=pairs, origin=CLAUDE, now=now)
    return records + ([edit] if edit else [])


def find_tool_use(transcript: str, tool_name: str, args: dict[str, Any]) -> str | None:
    """The id of the latest `tool_use` of this tool with this input in a transcript's tail.

    Claude Code builds that send no `tool_use_id` have already written the call to the
    transcript when PostToolUse runs.
    """
    if not transcript:
        return None
    try:
        with Path(transcript).open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - TRANSCRIPT_TAIL_BYTES))
            tail = fh.read()
    except OSError:
        return None
    for raw in reversed(tail.splitlines()):
        if b'"tool_use"' not in raw:
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        message = doc.get("message") if isinstance(doc, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        for block in reversed(content if isinstance(content, list) else []):
            if (isinstance(block, dict) and block.get("type") == "tool_use"
                    and block.get("name") == tool_name and block.get("input") == args):
                return _name(block.get("id"))
    return None


def cursor(keyer: LineKeyer, repos: Repos, payload: dict[str, Any],
           now: float) -> list[dict[str, Any]]:
    """Records for one afterFileEdit / afterTabFileEdit payload; [] for anything else."""
    event = payload.get("hook_event_name")
    path = _name(payload.get("file_path"))
    edits = payload.get("edits")
    if event not in ("afterFileEdit", "afterTabFileEdit") or path is None or not isinstance(
        edits, list
    ):
        return []
    pairs = [(_text(e.get("new_string")), _text(e.get("old_string")))
             for e in edits if isinstance(e, dict)]
    roots = payload.get("workspace_roots")
    cwd = next(filter(None, map(_name, roots)), None) if isinstance(roots, list) else None
    tab = event == "afterTabFileEdit"
    session_id = None if tab else _name(payload.get("conversation_id"))
    # Cursor keeps no log to deduplicate against; the id makes a repeated delivery of one
    # event harmless.
    digest = hashlib.sha256(json.dumps(
        [event, _name(payload.get("generation_id")), path, edits], sort_keys=True, default=str,
    ).encode()).hexdigest()[:24]
    records = [session_record(repos, CURSOR, session_id, cwd, now)] if session_id else []
    edit = edit_record(keyer, repos, tool=CURSOR, kind="completion" if tab else "agent",
                       call_id=f"{event}:{digest}", path=path, cwd=cwd, session_id=session_id,
                       pairs=pairs, origin=f"{CURSOR}-hook", now=now)
    return records + ([edit] if edit else [])
