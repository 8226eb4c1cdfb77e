"""The command AI tools run as a hook: `python -m worktally.client.importers.hook_entry
claude-code` (Claude Code's PostToolUse) or `... cursor` (Cursor's afterFileEdit and
afterTabFileEdit). It reads the hook's JSON on stdin, keys the edit at once and spools it for
the agent; it never opens the database, so it works while the agent is down.

A hook must not slow or break the agent it serves: this exits 0 whatever happens (garbage
input, a full disk), within a fixed read deadline, and writes at most one line naming the
failure's type to `logs/hooks.log`, never the input. Only the standard library is imported
before the input is known to be worth keying, and nothing heavy after: no DuckDB, click or
rich on this path.
"""

from __future__ import annotations

import os
import select
import sys
import time
from typing import IO, Any

TOOLS = ("claude-code", "cursor")
MAX_INPUT_BYTES = 8 * 1024 * 1024
# Claude Code and Cursor close stdin after the payload; this bounds a caller that does not.
READ_DEADLINE_S = 2.0
LOG_MAX_BYTES = 256 * 1024
BATCH_VERSION = 1  # capture/spool.py's


def read_input(stream: IO[bytes], deadline_s: float = READ_DEADLINE_S) -> bytes:
    """Everything on `stream` until EOF, the size cap or the deadline, whichever comes first."""
    fd = stream.fileno()
    chunks: list[bytes] = []
    size = 0
    end = time.monotonic() + deadline_s
    while size <= MAX_INPUT_BYTES:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def registered_repos() -> list[tuple[str, str]]:
    """(repo_id, root) of every repository in repos.json (the registry's file, read plainly:
    the registry module would import subprocess and dataclasses)."""
    import json

    from worktally.client import paths

    try:
        doc = json.loads(paths.repos_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    repos = doc.get("repos") if isinstance(doc, dict) else None
    return [(str(r["repo_id"]), str(r["path"])) for r in repos or []
            if isinstance(r, dict) and "repo_id" in r and "path" in r]


def records_for(tool: str, payload: dict[str, Any], now: float) -> list[dict[str, Any]]:
    from worktally.client.capture.line_keys import default_keyer
    from worktally.client.importers import hook_events

    keyer, repos = default_keyer(), registered_repos()
    if tool == "claude-code":
        return hook_events.claude_code(keyer, repos, payload, now, hook_events.find_tool_use)
    return hook_events.cursor(keyer, repos, payload, now)


def spool(records: list[dict[str, Any]]) -> None:
    """One spool batch, written as `capture/spool.py::Spool.write` writes one: to `tmp/`,
    fsynced, renamed into `new/` (that module would import the record dataclasses)."""
    import json

    from worktally.client import paths

    root = paths.spool_dir()
    tmp, new = paths.ensure_private_dir(root / "tmp"), paths.ensure_private_dir(root / "new")
    batch_id = f"{time.time_ns():020d}-{os.urandom(6).hex()}"
    body = json.dumps({"version": BATCH_VERSION, "batch_id": batch_id, "records": records},
                      separators=(",", ":")).encode()
    path = tmp / f"{batch_id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, paths.FILE_MODE)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(path, new / path.name)
    fd = os.open(new, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def handle(tool: str, raw: bytes, now: float | None = None) -> int:
    """Spool what the payload records; returns how many records. Raises on bad input."""
    import json

    if tool not in TOOLS:
        raise ValueError("unknown hook tool")
    payload = json.loads(raw)
    if not isinstance(payload, dict):
        raise ValueError("hook input is not a JSON object")
    records = records_for(tool, payload, time.time() if now is None else now)
    if records:
        spool(records)
    return len(records)


def log_failure(tool: str, exc: BaseException) -> None:
    """One line naming the failure's type (never its text: it may quote the input)."""
    try:
        from worktally.client import paths

        path = paths.log_dir() / "hooks.log"
        if path.exists() and path.stat().st_size > LOG_MAX_BYTES:
            path.unlink()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{stamp} hook {tool}: {type(exc).__name__}\n")
    except OSError:
        return  # nowhere to log to: the hook still must not fail its caller


def main(argv: list[str] | None = None, stdin: IO[bytes] | None = None,
         stdout: IO[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    tool = args[0] if args else ""
    try:
        handle(tool, read_input(stdin or sys.stdin.buffer))
    except Exception as exc:  # noqa: BLE001 - a hook never fails its caller; logged below
        log_failure(tool, exc)
    if tool == "cursor":
        # Cursor reads a JSON answer from every hook; an empty one changes nothing.
        (stdout or sys.stdout).write("{}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
