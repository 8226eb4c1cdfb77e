"""An agent's file writes are seen twice: in its transcript (`ai`) and by the watcher
(`external`). The content match wins: matching external lines become the agent's ai lines.

A match is the same repo, file and line key with edit times at most `WINDOW_S` apart. An
external edit event whose lines all turned `ai` becomes an `ai` event itself, so `edits`
and `edit_lines` agree.
"""

from __future__ import annotations

import duckdb

WINDOW_S = 15 * 60
# Every tool whose own log names the files it wrote (and the hooks' tools).
AGENT_TOOLS = ("claude-code", "codex", "gemini-cli", "opencode", "copilot-cli", "amp", "droid",
               "qwen-code", "aider", "cursor")

_MATCHES = """
    SELECT DISTINCT e.rowid AS row_id, e.event_id, a.tool, a.kind, a.session_id
    FROM edit_lines e
    JOIN edit_lines a
      ON a.line_key = e.line_key AND a.repo_id = e.repo_id AND a.file_id = e.file_id
    WHERE e.source = 'external' AND a.source = 'ai' AND a.kind = 'agent'
      AND a.tool IN (SELECT unnest($1))
      AND abs(epoch(a.ts) - epoch(e.ts)) <= $2
"""


def convert_external(con: duckdb.DuckDBPyConnection) -> int:
    """Turn watcher lines that an agent's transcript explains into ai lines; returns how many.

    The caller owns the transaction.
    """
    matches = con.execute(_MATCHES, [list(AGENT_TOOLS), WINDOW_S]).fetchall()
    if not matches:
        return 0
    # One agent line may match several external copies and vice versa: first match wins.
    chosen: dict[int, tuple[str, str, str, str]] = {}
    for row_id, event_id, tool, kind, session_id in matches:
        chosen.setdefault(int(row_id), (str(event_id), tool, kind, session_id))
    rows = list(chosen.items())
    con.execute(
        """
        UPDATE edit_lines SET source = 'ai', tool = m.tool, kind = m.kind,
            session_id = m.session_id
        FROM (SELECT unnest($1) AS row_id, unnest($2) AS tool, unnest($3) AS kind,
                     unnest($4) AS session_id) m
        WHERE edit_lines.rowid = m.row_id
        """,
        [[r for r, _ in rows], [v[1] for _, v in rows], [v[2] for _, v in rows],
         [v[3] for _, v in rows]],
    )
    events = sorted({v[0] for _, v in rows})
    con.execute(
        """
        UPDATE edits SET source = 'ai', tool = l.tool, kind = l.kind, session_id = l.session_id
        FROM (
            SELECT event_id, any_value(tool) AS tool, any_value(kind) AS kind,
                   any_value(session_id) AS session_id
            FROM edit_lines WHERE event_id IN (SELECT unnest($1))
            GROUP BY event_id HAVING bool_and(source = 'ai')
        ) l
        WHERE edits.event_id = l.event_id AND edits.source = 'external'
        """,
        [events],
    )
    return len(rows)
