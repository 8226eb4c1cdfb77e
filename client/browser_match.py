"""Links code copied from a browser AI chat to the bulk pastes it became in an editor.

The native-messaging host spools a `ChatSnippet` (line keys only) per copy; after the drain,
`match_pastes` turns bulk edit lines whose key was copied from a chat shortly before into AI
lines of tool `browser-chat`, so attribution and session outcomes follow them into commits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import duckdb

from worktally.client import events
from worktally.client.store import drain, queries
from worktally.client.store.transaction import transaction

Connection = duckdb.DuckDBPyConnection

TOOL = "browser-chat"
PASTE_KIND = "paste"
# Chat families the extension may report; anything else is refused by the host.
FAMILIES = ("chatgpt", "claude", "gemini", "copilot", "mistral", "perplexity")
# A paste links to a chat copy at most this long after it: older copies are not evidence.
MATCH_WINDOW = dt.timedelta(days=7)


@dataclass(frozen=True)
class ChatSnippet:
    """Keyed lines of one copy from an AI chat's answer; the text itself is never kept."""

    record_type: ClassVar[str] = "chat_snippet"
    session_id: str
    family: str
    keys: tuple[int, ...]
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=events.new_id)


def write_chat_snippets(con: Connection, records: Sequence[ChatSnippet]) -> None:
    """Store one row per keyed line; a snippet whose event id is stored already is skipped."""
    fresh = {r.event_id: r for r in records if r.keys}
    if not fresh:
        return
    known = {
        row[0] for row in con.execute(
            "SELECT DISTINCT event_id FROM chat_snippets WHERE event_id IN (SELECT unnest($1))",
            [list(fresh)],
        ).fetchall()
    }
    rows = [r for event_id, r in fresh.items() if event_id not in known]
    if not rows:
        return
    con.execute(
        """
        INSERT INTO chat_snippets
        SELECT event_id, session_id, family, unnest(keys), to_timestamp(ts)
        FROM (SELECT unnest($1) AS event_id, unnest($2) AS session_id, unnest($3) AS family,
                     unnest($4::BIGINT[][]) AS keys, unnest($5::DOUBLE[]) AS ts)
        """,
        [[r.event_id for r in rows], [r.session_id for r in rows], [r.family for r in rows],
         [list(r.keys) for r in rows], [r.ts for r in rows]],
    )


def install() -> None:
    """Teach the spool reader, the drain and `forget` about chat snippets (idempotent).

    `client/agent/pipeline.py` calls it: every process that drains or forgets imports it.
    """
    events.register_record_type(ChatSnippet)
    drain.register_writer(ChatSnippet.record_type, write_chat_snippets)
    queries.register_forget_table("chat_snippets", "ts")


# Each bulk line takes the latest chat copy of its key made before it, within the window.
_MATCH_LINES = f"""
UPDATE edit_lines SET source = 'ai', tool = '{TOOL}', kind = '{PASTE_KIND}',
                      session_id = m.session_id
FROM (
    SELECT e.rowid AS line_row, c.session_id
    FROM edit_lines e
    JOIN chat_snippets c
      ON c.line_key = e.line_key AND c.ts <= e.ts AND c.ts >= e.ts - $window
    WHERE e.source = 'bulk'
    QUALIFY row_number() OVER (PARTITION BY e.rowid ORDER BY c.ts DESC, c.event_id) = 1
) m
WHERE edit_lines.rowid = m.line_row
RETURNING edit_lines.event_id
"""

# An edit whose keyed lines all came from chats becomes an AI paste as a whole, so the
# per-edit counts (`worktally status`, `me`) agree with the lines; a partly matched edit
# stays bulk there while its matched lines count as AI in attribution.
_MATCH_EDITS = f"""
UPDATE edits SET source = 'ai', tool = '{TOOL}', kind = '{PASTE_KIND}',
                 session_id = m.session_id
FROM (
    SELECT event_id, min(session_id) AS session_id
    FROM edit_lines
    WHERE event_id IN (SELECT unnest($events))
    GROUP BY event_id
    HAVING bool_and(source = 'ai' AND tool = '{TOOL}')
) m
WHERE edits.event_id = m.event_id AND edits.source = 'bulk'
"""


def match_pastes(con: Connection) -> int:
    """Relabel bulk lines copied from a browser chat as AI pastes; returns the lines changed."""
    with transaction(con):
        touched = con.execute(_MATCH_LINES, {"window": MATCH_WINDOW}).fetchall()
        events_touched = sorted({row[0] for row in touched})
        if events_touched:
            con.execute(_MATCH_EDITS, {"events": events_touched})
    return len(touched)
