"""Writes a developer's agent sessions as Claude Code transcripts, line for line in its format.

Each session is `$CLAUDE_CONFIG_DIR/projects/<cwd with '/' as '-'>/<session id>.jsonl`: a
user prompt, then per request an assistant line with `message.usage` (and a `Write` or
`Edit` tool call when the session writes a file), then the tool's successful result.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.demo.scenario import MODEL, AgentSession, FileWrite

VERSION = "2.0.14"
# Time between two lines of a transcript and between two sessions: short, so that even the
# busiest developer's sessions all lie in the few minutes before the demo's commits.
LINE_STEP = dt.timedelta(milliseconds=200)
SESSION_STEP = dt.timedelta(seconds=1)


def project_dir_name(cwd: Path) -> str:
    """Claude Code names a project's folder after its cwd with separators as dashes."""
    return str(cwd).replace("/", "-").replace(".", "-")


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z")


class _Transcript:
    def __init__(self, session: AgentSession, cwd: Path, start: dt.datetime) -> None:
        self.session = session
        self.cwd = cwd
        self.moment = start
        self.lines: list[dict[str, Any]] = []
        self.parent: str | None = None

    def add(self, kind: str, message: dict[str, Any], **extra: Any) -> None:
        uuid = f"{self.session.session_id[:8]}-{len(self.lines):04d}"
        self.lines.append({
            "parentUuid": self.parent, "isSidechain": False, "userType": "external",
            "cwd": str(self.cwd), "sessionId": self.session.session_id, "version": VERSION,
            "gitBranch": "main", "message": message, "type": kind, "uuid": uuid,
            "timestamp": _stamp(self.moment), **extra,
        })
        self.parent = uuid
        self.moment += LINE_STEP

    def tool_input(self, write: FileWrite, root: Path) -> tuple[str, dict[str, Any]]:
        target = str(root / write.relpath)
        if write.appends_to:
            last = write.appends_to.rstrip("\n")
            return "Edit", {"file_path": target, "old_string": last,
                            "new_string": f"{last}\n\n\n{write.content.rstrip(chr(10))}"}
        return "Write", {"file_path": target, "content": write.content}


def render(session: AgentSession, cwd: Path, start: dt.datetime) -> str:
    """The transcript text of one session (cwd is the repo root or a folder outside it)."""
    t = _Transcript(session, cwd, start)
    t.add("user", {"role": "user", "content": session.prompt})
    writes = list(session.writes)
    for i, usage in enumerate(session.requests):
        content: list[dict[str, Any]] = [{"type": "text", "text": "Working on it."}]
        call_id = f"toolu_{session.session_id[:12]}{i:02d}"
        write = writes[i] if i < len(writes) else None
        if write is not None:
            name, tool_input = t.tool_input(write, cwd)
            content = [{"type": "tool_use", "id": call_id, "name": name, "input": tool_input}]
        t.add("assistant", {
            "id": f"msg_{session.session_id[:16]}{i:02d}", "type": "message",
            "role": "assistant", "model": MODEL, "content": content,
            "stop_reason": "tool_use" if write else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": usage.input_tokens,
                      "cache_creation_input_tokens": usage.cache_creation,
                      "cache_read_input_tokens": usage.cache_read,
                      "output_tokens": usage.output_tokens, "service_tier": "standard"},
        }, requestId=f"req_{session.session_id[:16]}{i:02d}")
        if write is not None:
            t.add("user", {"role": "user", "content": [
                {"tool_use_id": call_id, "type": "tool_result",
                 "content": "The file was updated successfully."}]},
                toolUseResult={"filePath": str(cwd / write.relpath), "type": "update"})
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in t.lines)


def text_end(start: dt.datetime, session: AgentSession) -> dt.datetime:
    """When the last line of a session that started at `start` is written."""
    lines = 1 + len(session.requests) + len(session.writes)
    return start + LINE_STEP * lines


def write_sessions(claude_dir: Path, sessions: tuple[AgentSession, ...], repo_root: Path,
                   outside: Path, start: dt.datetime) -> dt.datetime:
    """Write every session's transcript; returns the moment after the last line."""
    moment = start
    for session in sessions:
        cwd = repo_root if session.in_repo else outside
        folder = claude_dir / "projects" / project_dir_name(cwd)
        paths.ensure_private_dir(folder)
        text = render(session, cwd, moment)
        paths.write_private(folder / f"{session.session_id}.jsonl", text.encode())
        moment = text_end(moment, session) + SESSION_STEP
    return moment


def apply_writes(sessions: tuple[AgentSession, ...], repo_root: Path) -> None:
    """Put on disk what the sessions' tool calls wrote, as the agent did."""
    for session in sessions:
        for write in session.writes:
            target = repo_root / write.relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            if write.appends_to:
                old = target.read_text(encoding="utf-8")
                last = write.appends_to.rstrip("\n")
                new = old.replace(last, f"{last}\n\n\n{write.content.rstrip(chr(10))}", 1)
                target.write_text(new, encoding="utf-8")
            else:
                target.write_text(write.content, encoding="utf-8")
