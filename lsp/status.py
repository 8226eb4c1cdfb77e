"""The `worktally/status` answer for an editor: today's lines by source, and where they stand.

The running agent knows the whole day across editors. Without one, the server says so
plainly: it answers with what it spooled itself this session, and counts what waits in the
spool (from the spool's files, never the database), so an editor never shows zeros for
lines that are safe on disk.
"""

from __future__ import annotations

import logging
from typing import Any

from worktally.client import control_client
from worktally.client.capture.spool import Backlog
from worktally.client.errors import WorktallyError

log = logging.getLogger(__name__)

COUNTED_SOURCES = ("typed", "ai", "ai_modified", "bulk", "external")
AGENT_TIMEOUT_S = 1.0


def ask_agent() -> dict[str, Any] | None:
    """The agent's status reply, or None when no agent runs (blocking: call it in a thread)."""
    try:
        reply = control_client.ask({"cmd": "status"}, timeout=AGENT_TIMEOUT_S)
    except (WorktallyError, OSError, ValueError) as exc:
        log.warning("the agent did not give its status: %s", exc)
        return None
    return reply if isinstance(reply, dict) else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _note(agent: bool, backlog: Backlog | None) -> str | None:
    """One plain sentence for the editor when the counts need one."""
    if agent:
        return None
    if backlog is None or backlog.batches == 0:
        return ("the worktally agent is not running; counts are this editor session's "
                "(start it with `worktally agent`)")
    plus = "" if backlog.complete else "+"
    return (f"the worktally agent is not running: {backlog.batches} batches "
            f"({backlog.records}{plus} records, {backlog.edit_lines}{plus} lines) wait in the "
            "spool, safe until it starts; counts are this editor session's")


def status_reply(
    agent_reply: dict[str, Any] | None, own_counts: dict[str, int], paused: bool,
    backlog: Backlog | None = None,
) -> dict[str, Any]:
    """The fixed-shape answer: agent counts when it runs, else this session's own.

    Keys: the sources (lines today), `paused`, `agent`, `counts` ("agent" or "session"),
    `spool` (batches, records, edit_lines waiting, and whether all were read) and `note`.
    """
    counts = agent_reply if agent_reply is not None else own_counts
    reply: dict[str, Any] = {source: _count(counts.get(source)) for source in COUNTED_SOURCES}
    agent_paused = agent_reply.get("paused") if agent_reply is not None else None
    reply["paused"] = bool(agent_paused) if isinstance(agent_paused, bool) else paused
    reply["agent"] = agent_reply is not None
    reply["counts"] = "agent" if agent_reply is not None else "session"
    reply["spool"] = (backlog or Backlog(0, 0, 0)).to_json()
    reply["note"] = _note(agent_reply is not None, backlog)
    return reply
