"""Links code copied from a browser AI chat to the bulk pastes it became in an editor.

The native-messaging host spools a `ChatSnippet` (line keys only) per copy; after the drain,
`match_pastes` turns bulk edit lines whose key was copied from a chat shortly before into AI
lines of tool `browser-chat`, so attribution and session outcomes follow them into commits.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from worktally.client.store.transaction import transaction

Connection = duckdb.DuckDBPyConnection

TOOL = "browser-chat"
PASTE_KIND = "paste"
# Chat families the extension may report; anything else is refused by the host.
FAMILIES = ("chatgpt", "claude", "gemini", "copilot", "mistral", "perplexity")
# A paste links to a chat copy at most this long after it: older copies are not evidence.
MATCH_WINDOW = dt.timedelta(days=7)


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
