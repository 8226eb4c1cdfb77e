"""Aider's chat history (`.aider.chat.history.md`), read line by line into sessions and edits.

A reply's fenced blocks are collected per file and keyed when the fence closes; nothing is
stored until Aider's own `> Applied edit to <path>` line confirms that file, so a block the
model wrote in an `/ask` answer, or an edit Aider refused, never counts. Block kinds (Aider's
edit formats): SEARCH/REPLACE (`diff`, `diff-fenced`: the file name on the line before the
fence or as the fence's first line), whole files (`whole`: the file name on the line before
the fence), unified diffs (`udiff`: `+++ path`) and `*** Begin Patch` envelopes.

The text of a block lives only while the block is open; a read that ends inside a block drops
that block (rare: Aider writes a reply and its `Applied edit` lines together).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from worktally.client.importers import apply_patch
from worktally.client.importers.batch import ImportBatch, PendingEdit
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import keyed_edit

STARTED = "# aider chat started at "
APPLIED = "Applied edit to "
SEARCH, DIVIDER, REPLACE = "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"


# Aider's own lines when it rejects a reply's edits: "# 1 SEARCH/REPLACE block failed to
# match!" and "The LLM did not conform to the edit format."
_FAILED = "failed to match"
_NONCONFORMING = "The LLM did not conform"


def _ends_reply(line: str) -> bool:
    """A line only Aider writes: its output (`> ...` with Markdown's two-space break), a user
    line or a new run. Inside an unclosed fence it means the model's reply has ended."""
    return (line.startswith("> ") and line.endswith("  ")) or line.startswith(
        ("#### ", STARTED))


def _started_at(text: str) -> float | None:
    """Aider writes the local wall-clock time of the run's start."""
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").astimezone().timestamp()
    except ValueError:
        return None


def _search_replace(lines: list[str], default: str | None) -> list[tuple[str, str, str]]:
    """(path, new text, old text) of each SEARCH/REPLACE block in a fence's lines."""
    out: list[tuple[str, str, str]] = []
    path, section = default, ""
    old: list[str] = []
    new: list[str] = []
    for line in lines:
        marker = line.rstrip()
        if marker == SEARCH:
            section, old, new = "search", [], []
        elif marker == DIVIDER and section == "search":
            section = "replace"
        elif marker == REPLACE and section == "replace":
            if path:
                out.append((path, "\n".join(new), "\n".join(old)))
            section = ""
        elif section == "search":
            old.append(line)
        elif section == "replace":
            new.append(line)
        elif marker.strip():
            path = marker.strip()  # diff-fenced: the file name opens each block
    return out


def _unified(lines: list[str]) -> list[tuple[str, str, str]]:
    added: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines:
        if line.startswith("+++ "):
            current = line[4:].strip().removeprefix("b/")
            added.setdefault(current, [])
        elif line.startswith("--- "):
            continue
        elif current is not None and line.startswith("+"):
            added[current].append(line[1:])
    return [(path, "\n".join(new), "") for path, new in added.items()]


def _file_name(line: str | None) -> str | None:
    """The bare file name Aider puts on the line before a fence (maybe in backticks/bold)."""
    if line is None:
        return None
    stripped = line.strip().strip("`*").strip()
    if not stripped or " " in stripped or stripped.endswith(":"):
        return None
    return stripped


class HistoryParser:
    def __init__(self, ctx: ImportContext, batch: ImportBatch, state: dict[str, Any],
                 path: Path, tool: str) -> None:
        self.ctx = ctx
        self.batch = batch
        self.tool = tool
        # Paths in Aider's lines are relative to the repository, where the history lives.
        self.cwd = str(path.absolute().parent)
        self.file_label = ctx.keyer.label(f"aider-history:{path.absolute()}")
        self.session_id: str | None = state.get("session_id")
        self.started: float = state.get("started") or 0.0
        self.reply: int = state.get("reply", 0)
        self.pending: dict[str, PendingEdit] = {
            fid: PendingEdit.from_json(raw) for fid, raw in state.get("pending", {}).items()
        }
        self.fence: list[str] | None = None
        self.fence_info = ""
        self.before_fence: str | None = None
        self.last_text: str | None = None

    def state(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "started": self.started, "reply": self.reply,
                "pending": {fid: p.to_json() for fid, p in self.pending.items()}}

    def feed(self, raw: bytes, offset: int) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if self.fence is not None:
            if line.lstrip().startswith("```") and line.strip().strip("`") == "":
                self._close_fence()
                return
            if not _ends_reply(line):
                self.fence.append(line)
                return
            # The model never closed its fence (Aider then reports a format error): the
            # block is dropped and the line is Aider's again.
            self.fence = None
        if line.startswith(STARTED):
            self._start(line[len(STARTED):])
        elif line.startswith("####"):
            self.reply += 1
            self.pending = {}
        elif line.startswith(">"):
            body = line[1:].strip()
            if body.startswith(APPLIED):
                self._applied(body[len(APPLIED):].strip())
            elif body.startswith(_NONCONFORMING) or (body.startswith("# ") and _FAILED in body):
                # Aider applied none of this reply's blocks; the model's retry comes next.
                self.pending = {}
        elif line.lstrip().startswith("```"):
            self.fence, self.fence_info = [], line.strip().strip("`").strip()
            self.before_fence = self.last_text
        elif line.strip():
            self.last_text = line
            return
        self.last_text = None

    def _start(self, when: str) -> None:
        started = _started_at(when)
        if started is None:
            return
        self.started = started
        self.session_id = f"{self.tool}:{self.file_label}:{int(started)}"
        self.reply = 0
        self.pending = {}
        repo_id = self.ctx.repo_for_cwd(self.cwd)
        self.batch.touch_session(self.session_id, started, repo_id, True)

    def _close_fence(self) -> None:
        lines, info = self.fence or [], self.fence_info
        self.fence = None
        default = _file_name(self.before_fence)
        if any(line.rstrip() == SEARCH for line in lines):
            found = _search_replace(lines, default)
        elif lines and lines[0].startswith(apply_patch.BEGIN):
            found = [(p.path, "\n".join(p.added), "")
                     for p in apply_patch.parse_patch("\n".join(lines))]
        elif info == "diff" and any(line.startswith("+++ ") for line in lines):
            found = _unified(lines)
        elif default is not None:
            found = [(default, "\n".join(lines), "")]  # `whole`: the file's full new text
        else:
            found = []
        for path, new, old in found:
            self._add(path, new, old)

    def _add(self, path: str, new: str, old: str) -> None:
        if self.session_id is None:
            return
        edit = keyed_edit(self.ctx, path, self.cwd, self.session_id, [(new, old)], self.started)
        earlier = self.pending.get(edit.file_id)
        if earlier is not None:
            edit = PendingEdit(file_id=edit.file_id, repo_id=edit.repo_id,
                               session_id=edit.session_id, keys=earlier.keys + edit.keys,
                               line_count=earlier.line_count + edit.line_count, ts=edit.ts)
        self.pending[edit.file_id] = edit

    def _applied(self, path: str) -> None:
        if self.session_id is None:
            return
        _, file_id = self.ctx.file_ids(path, self.cwd)
        edit = self.pending.pop(file_id, None)
        if edit is not None:
            self.batch.confirm(f"{self.session_id}:{self.reply}", [edit])
