"""The `worktally/status` answer for an editor's status bar: today's lines by source.

The running agent knows the whole day across editors; without one, the server answers with
what it spooled itself this session and says so with `"agent": false`.
"""

from __future__ import annotations

import logging
from typing import Any

from worktally.client import control_client
from worktally.client.errors import WorktallyError

log = logging.getLogger(__name__)

COUNTED_SOURCES = ("typed", "ai", "bulk", "external")
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


def status_reply(
    agent_reply: dict[str, Any] | None, own_counts: dict[str, int], paused: bool
) -> dict[str, Any]:
    """The fixed-shape answer: agent counts when it runs, else this session's own."""
    counts = agent_reply if agent_reply is not None else own_counts
    reply: dict[str, Any] = {source: _count(counts.get(source)) for source in COUNTED_SOURCES}
    agent_paused = agent_reply.get("paused") if agent_reply is not None else None
    reply["paused"] = bool(agent_paused) if isinstance(agent_paused, bool) else paused
    reply["agent"] = agent_reply is not None
    return reply
