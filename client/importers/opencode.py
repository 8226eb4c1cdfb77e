"""opencode (`~/.local/share/opencode`): sessions, token usage and edits, from the SQLite
database current builds write (`opencode.db`, or a release channel's `opencode-<channel>.db`)
and from the JSON storage older builds wrote (`storage/{session,message,part}/**/*.json`).

An assistant message carries `modelID`, `providerID`, `time.created` (ms) and
`tokens{input, output, reasoning, cache{read, write}, total?}`; tokens are keyed by message
id, so a message that exists both as a database row and as a leftover JSON file counts once.
Output includes reasoning (billed as output). Edits are `tool` parts of the `edit`, `write`,
`multiedit` and `patch` tools whose state is `completed`.

The database is opened read-only and read incrementally: rows whose `time_updated` is at or
after the last import's high-water mark (a row is updated when its tokens are final).
"""

from __future__ import annotations

import errno
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from worktally.client.capture.records import TokenUsage
from worktally.client.importers.batch import ImportBatch, PendingEdit
from worktally.client.importers.context import ImportContext
from worktally.client.importers.edits import (
    count,
    epoch,
    items,
    keyed_edit,
    name,
    obj,
    patch_edits,
    text,
)

TOOL = "opencode"
_DB_NAME = re.compile(r"^opencode(-[A-Za-z0-9_-]+)?\.db$")
_STORAGE_KINDS = ("message", "part", "session")


def wanted(path: Path) -> bool:
    if path.suffix == ".db":
        return bool(_DB_NAME.match(path.name))
    parts = path.parts
    return "storage" in parts and any(kind in parts for kind in _STORAGE_KINDS)


def read_document(ctx: ImportContext, batch: ImportBatch, path: Path,
                  state: dict[str, Any]) -> dict[str, Any]:
    if path.suffix == ".db":
        return _read_database(ctx, batch, path, state)
    try:
        doc = orjson.loads(path.read_bytes())
    except ValueError:
        batch.malformed_lines += 1
        return {}
    if not isinstance(doc, dict):
        return {}
    if "messageID" in doc and doc.get("type") is not None:
        _part(ctx, batch, doc, name(doc.get("sessionID")) or "", None)
    elif "role" in doc or "tokens" in doc:
        _message(ctx, batch, doc, name(doc.get("id")), name(doc.get("sessionID")))
    elif "directory" in doc and name(doc.get("id")):
        time = obj(doc.get("time"))
        _session(ctx, batch, str(doc["id"]).strip(), name(doc.get("directory")),
                 time.get("created"), time.get("updated"))
    return {}


def _session(ctx: ImportContext, batch: ImportBatch, session_id: str, directory: str | None,
             created: Any, updated: Any) -> None:
    repo_id = ctx.repo_for_cwd(directory) if directory else None
    for value in (created, updated):
        ts = epoch(value)
        if ts is not None:
            batch.touch_session(session_id, ts, repo_id, directory is not None)


def _message(ctx: ImportContext, batch: ImportBatch, doc: dict[str, Any],
             message_id: str | None, session_id: str | None) -> None:
    session_id = session_id or "unknown"
    time = obj(doc.get("time"))
    ts = epoch(time.get("created"))
    path = obj(doc.get("path"))
    cwd = name(path.get("cwd")) or name(path.get("root"))
    if ts is not None:
        repo_id = ctx.repo_for_cwd(cwd) if cwd else None
        batch.touch_session(session_id, ts, repo_id, cwd is not None)
        completed = epoch(time.get("completed"))
        if completed is not None:
            batch.touch_session(session_id, completed, repo_id, cwd is not None)
    tokens = doc.get("tokens")
    model, provider = name(doc.get("modelID")), name(doc.get("providerID"))
    if not isinstance(tokens, dict) or model is None or provider is None:
        return
    cache = obj(tokens.get("cache"))
    inp, out = count(tokens.get("input")), count(tokens.get("output"))
    reasoning = count(tokens.get("reasoning"))
    write, read = count(cache.get("write")), count(cache.get("read"))
    output = out + reasoning
    total = count(tokens.get("total"))
    if total > inp + output + write + read:
        output += total - (inp + output + write + read)
    if inp + output + write + read == 0:
        return
    usage_id = f"{TOOL}:{message_id}" if message_id else f"{TOOL}:{session_id}:{ts}"
    batch.add_usage(TokenUsage(
        usage_id=usage_id, session_id=session_id, tool=TOOL, model=model, input_tokens=inp,
        output_tokens=output, cache_creation_tokens=write, cache_read_tokens=read,
        ts=ts if ts is not None else 0.0, event_id=usage_id,
    ))


def _part(ctx: ImportContext, batch: ImportBatch, doc: dict[str, Any], session_id: str,
          cwd: str | None) -> None:
    if doc.get("type") != "tool":
        return
    state = doc.get("state")
    call_id = name(doc.get("callID")) or name(doc.get("id"))
    if not isinstance(state, dict) or call_id is None:
        return
    status = state.get("status")
    if status == "error":
        batch.failed_tool_calls += 1
        return
    args = state.get("input")
    if status != "completed" or not isinstance(args, dict):
        return
    time = obj(state.get("time"))
    ts = epoch(time.get("end")) or epoch(time.get("start")) or 0.0
    edits = _tool_edits(ctx, str(doc.get("tool")), args, session_id, cwd, ts)
    if edits:
        batch.confirm(call_id, edits)


def _tool_edits(ctx: ImportContext, tool: str, args: dict[str, Any], session_id: str,
                cwd: str | None, ts: float) -> list[PendingEdit]:
    path = name(args.get("filePath")) or name(args.get("file_path"))
    if tool == "write" and path:
        return [keyed_edit(ctx, path, cwd, session_id, [(text(args.get("content")), "")], ts)]
    if tool == "edit" and path:
        pairs = [(text(args.get("newString")), text(args.get("oldString")))]
        return [keyed_edit(ctx, path, cwd, session_id, pairs, ts)]
    if tool == "multiedit" and path:
        entries = items(args.get("edits"))
        pairs = [(text(e.get("newString")), text(e.get("oldString")))
                 for e in entries if isinstance(e, dict)]
        return [keyed_edit(ctx, path, cwd, session_id, pairs, ts)]
    if tool in ("patch", "apply_patch"):
        patch = text(args.get("patchText")) or text(args.get("patch"))
        return patch_edits(ctx, patch, cwd, session_id, ts) if patch else []
    return []


def _connect(path: Path) -> sqlite3.Connection:
    """Read-only; a database whose WAL index cannot be shared is read as immutable."""
    uri = f"file:{path}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=1.0)
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.Error:
        return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=1.0)


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in con.execute(f"PRAGMA table_info({table})")}


def _rows(con: sqlite3.Connection, table: str, select: str, since: int,
          state: dict[str, Any], mark: str) -> Iterator[tuple[Any, ...]]:
    """Rows of `table` changed since the mark (all of them when it has no time_updated)."""
    columns = _columns(con, table)
    if not columns:
        return
    if "time_updated" in columns:
        query = f"SELECT {select}, time_updated FROM {table} WHERE time_updated >= ?"
        high = since
        for row in con.execute(query, [since]):
            high = max(high, int(row[-1] or 0))
            yield row[:-1]
        state[mark] = high
    else:
        yield from con.execute(f"SELECT {select} FROM {table}")


def _read_database(ctx: ImportContext, batch: ImportBatch, path: Path,
                   state: dict[str, Any]) -> dict[str, Any]:
    new_state = dict(state)
    try:
        con = _connect(path)
    except sqlite3.Error as exc:
        raise OSError(errno.EIO, f"opencode database unreadable: {exc}") from exc
    try:
        directories: dict[str, str | None] = {}
        if "directory" in _columns(con, "session"):
            rows = _rows(con, "session", "id, directory, time_created",
                         int(state.get("session_since", 0)), new_state, "session_since")
            for session_id, directory, created in rows:
                _session(ctx, batch, str(session_id), name(directory), created, None)
            directories = {str(sid): name(d) for sid, d in con.execute(
                "SELECT id, directory FROM session")}
        for message_id, session_id, data in _rows(
            con, "message", "id, session_id, data", int(state.get("message_since", 0)),
            new_state, "message_since",
        ):
            doc = _json(batch, data)
            if doc is not None:
                _message(ctx, batch, doc, name(message_id), name(session_id))
        if _columns(con, "part"):
            for session_id, data in _rows(con, "part", "session_id, data",
                                          int(state.get("part_since", 0)), new_state,
                                          "part_since"):
                if isinstance(data, str) and '"tool"' in data:
                    doc = _json(batch, data)
                    if doc is not None:
                        sid = str(session_id)
                        _part(ctx, batch, doc, sid, directories.get(sid))
    except sqlite3.Error as exc:
        # Nothing of this read is stored (the caller skips the file): it repeats next time.
        raise OSError(errno.EIO, f"opencode database unreadable: {exc}") from exc
    finally:
        con.close()
    return new_state


def _json(batch: ImportBatch, data: Any) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(data) if isinstance(data, str | bytes) else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        batch.malformed_lines += 1
        return None
    return doc
