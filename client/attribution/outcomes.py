"""Every AI session's outcome (shipped, edited, repo_context, no_context) and its tokens.

Sessions come from `ai_sessions`, from token usage whose session was never described, and,
for completion streams (AI edit lines without a session), one synthetic session per tool
and UTC day named `<tool>:stream:<YYYY-MM-DD>`. Tokens are read from the deduplicated view
`token_usage_effective`, counted as input + output + cache writes + cache reads.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import duckdb

from worktally.client.attribution import pricing
from worktally.client.config import Config
from worktally.client.wire.periods import parse_week

Connection = duckdb.DuckDBPyConnection
OUTCOMES = ("shipped", "edited", "repo_context", "no_context")
STREAM_SEPARATOR = ":stream:"

_TOKENS = "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens"

# Completion-stream edits: AI lines no session claims, grouped per tool and UTC day.
_STREAM_EDITS = f"""
SELECT coalesce(tool, 'unknown') || '{STREAM_SEPARATOR}'
           || strftime(timezone('UTC', ts), '%Y-%m-%d') AS session_id,
       coalesce(tool, 'unknown') AS tool, line_key, repo_id, ts
FROM edit_lines WHERE source IN ('ai', 'ai_modified') AND session_id IS NULL
"""

_SESSIONS_SQL = f"""
WITH usage AS (
    SELECT session_id, any_value(tool) AS tool, min(ts) AS first_ts, max(ts) AS last_ts,
           sum({_TOKENS}) AS tokens
    FROM token_usage_effective GROUP BY session_id
),
stream AS ({_STREAM_EDITS}),
sessions AS (
    SELECT session_id, tool, kind, repo_id, started_at, ended_at FROM ai_sessions
    UNION ALL
    SELECT session_id, tool, 'agent', NULL, first_ts, last_ts FROM usage
    WHERE session_id NOT IN (SELECT session_id FROM ai_sessions)
    UNION ALL
    SELECT session_id, any_value(tool), 'completion', max(repo_id), min(ts), max(ts)
    FROM stream GROUP BY session_id
),
shipped AS (
    SELECT DISTINCT s.session_id
    FROM sessions s
    JOIN commit_lines l ON l.session_id = s.session_id AND l.source IN ('ai', 'ai_modified')
    JOIN commits c ON c.repo_id = l.repo_id AND c.sha = l.sha
    WHERE c.reachable AND c.committed_at <= s.ended_at + to_days($window)
    UNION
    SELECT DISTINCT e.session_id
    FROM stream e
    JOIN sessions s ON s.session_id = e.session_id
    JOIN commit_lines l ON l.line_key = e.line_key AND l.session_id IS NULL
         AND l.source IN ('ai', 'ai_modified') AND coalesce(l.tool, 'unknown') = e.tool
    JOIN commits c ON c.repo_id = l.repo_id AND c.sha = l.sha
    WHERE c.reachable AND c.committed_at >= e.ts - INTERVAL 1 SECOND
      AND c.committed_at <= s.ended_at + to_days($window)
),
edited AS (
    SELECT DISTINCT session_id FROM edit_lines
    WHERE source IN ('ai', 'ai_modified') AND session_id IS NOT NULL AND repo_id IS NOT NULL
    UNION
    SELECT DISTINCT session_id FROM stream WHERE repo_id IS NOT NULL
)
SELECT s.session_id, s.tool, s.kind, s.repo_id, s.started_at, s.ended_at,
       CASE WHEN s.session_id IN (SELECT session_id FROM shipped) THEN 'shipped'
            WHEN s.session_id IN (SELECT session_id FROM edited) THEN 'edited'
            WHEN s.repo_id IS NOT NULL THEN 'repo_context'
            ELSE 'no_context' END AS outcome,
       coalesce(u.tokens, 0) AS tokens
FROM sessions s LEFT JOIN usage u USING (session_id)
ORDER BY s.started_at, s.session_id
"""


@dataclass(frozen=True)
class SessionOutcome:
    session_id: str
    tool: str
    kind: str
    repo_id: str | None
    started_at: dt.datetime
    ended_at: dt.datetime
    outcome: str
    tokens: int
    # False while the commit window is still open: `edited` may yet become `shipped`.
    settled: bool


@dataclass(frozen=True)
class WeeklySessions:
    """Counts of sessions that started in the week, by outcome, and the week's tokens."""

    week: str
    shipped: int
    edited: int
    repo_context: int
    no_context: int
    tokens_total: int
    tokens_shipped: int


def session_outcomes(con: Connection, cfg: Config, now: dt.datetime) -> list[SessionOutcome]:
    """Every known AI session with its outcome under `attribution.commit_window_days`."""
    window = cfg.attribution.commit_window_days
    rows = con.execute(_SESSIONS_SQL, {"window": window}).fetchall()
    out = []
    for session_id, tool, kind, repo_id, started, ended, outcome, tokens in rows:
        out.append(SessionOutcome(
            session_id=str(session_id), tool=str(tool), kind=str(kind), repo_id=repo_id,
            started_at=started, ended_at=ended, outcome=str(outcome), tokens=int(tokens),
            settled=now >= ended + dt.timedelta(days=window),
        ))
    return out


def _in(moment: dt.datetime, start: dt.datetime, end: dt.datetime) -> bool:
    return start <= moment < end


def _usage_rows(con: Connection, start: dt.datetime,
                end: dt.datetime) -> list[tuple[str, str, str, int, int, int, int]]:
    rows = con.execute(
        """
        SELECT session_id, tool, model, input_tokens, output_tokens,
               cache_creation_tokens, cache_read_tokens
        FROM token_usage_effective WHERE ts >= ? AND ts < ?
        """,
        [start, end],
    ).fetchall()
    return [(str(s), str(t), str(m), int(i), int(o), int(cw), int(cr))
            for s, t, m, i, o, cw, cr in rows]


def summary_between(con: Connection, start: dt.datetime, end: dt.datetime, cfg: Config,
                    label: str) -> WeeklySessions:
    """Sessions started in [start, end) by outcome; tokens used in [start, end)."""
    outcomes = session_outcomes(con, cfg, dt.datetime.now(dt.UTC))
    counts = Counter(o.outcome for o in outcomes if _in(o.started_at, start, end))
    by_session = {o.session_id: o.outcome for o in outcomes}
    total = shipped = 0
    for session_id, _tool, _model, inp, out, cw, cr in _usage_rows(con, start, end):
        tokens = inp + out + cw + cr
        total += tokens
        if by_session.get(session_id) == "shipped":
            shipped += tokens
    return WeeklySessions(
        week=label, shipped=counts["shipped"], edited=counts["edited"],
        repo_context=counts["repo_context"], no_context=counts["no_context"],
        tokens_total=total, tokens_shipped=shipped,
    )


def weekly_session_summary(con: Connection, week: str, cfg: Config) -> WeeklySessions:
    """The report's view of one ISO week (UTC bounds, like every report period)."""
    period = parse_week(week)
    return summary_between(con, period.start, period.end, cfg, str(period))


def usage_between(con: Connection, start: dt.datetime, end: dt.datetime, cfg: Config,
                  table: pricing.PriceTable | None = None,
                  sessions_known: list[SessionOutcome] | None = None) -> dict[str, Any]:
    """The developer's own AI use in [start, end): sessions, tokens and cost, by outcome/tool.

    Sessions are those started in the range; tokens and cost are those used in it, priced
    request by request (the 200k tier applies per request, as in ccusage).
    """
    prices = table or pricing.load_price_table()
    outcomes = (sessions_known if sessions_known is not None
                else session_outcomes(con, cfg, dt.datetime.now(dt.UTC)))
    by_session = {o.session_id: o for o in outcomes}
    sessions: Counter[str] = Counter()
    tool_sessions: Counter[str] = Counter()
    for o in outcomes:
        if _in(o.started_at, start, end):
            sessions[o.outcome] += 1
            tool_sessions[o.tool] += 1
    tokens: Counter[str] = Counter()
    by_tool: dict[str, dict[str, Any]] = defaultdict(lambda: {"tokens": 0, "cost_usd": 0.0})
    costs: list[tuple[str, pricing.Cost]] = []
    cost_by_outcome: Counter[str] = Counter()
    for session_id, tool, model, inp, out, cw, cr in _usage_rows(con, start, end):
        known = by_session.get(session_id)
        outcome = known.outcome if known else "no_context"
        cost = pricing.usage_cost(prices, model, inp, out, cw, cr)
        costs.append((model, cost))
        tokens[outcome] += inp + out + cw + cr
        cost_by_outcome[outcome] += cost.usd
        by_tool[tool]["tokens"] += inp + out + cw + cr
        by_tool[tool]["cost_usd"] += cost.usd
    for tool, n in tool_sessions.items():
        by_tool[tool]["sessions"] = n
    summary = pricing.summarise_costs(costs)
    return {
        "sessions": {name: sessions[name] for name in OUTCOMES},
        "tokens": {name: tokens[name] for name in OUTCOMES},
        "tokens_total": sum(tokens.values()),
        "cost_usd": round(summary.usd, 6),
        "cost_usd_by_outcome": {name: round(cost_by_outcome[name], 6) for name in OUTCOMES},
        "by_tool": {
            tool: {"sessions": v.get("sessions", 0), "tokens": v["tokens"],
                   "cost_usd": round(v["cost_usd"], 6)}
            for tool, v in sorted(by_tool.items())
        },
        "unpriced_models": list(summary.unpriced_models),
        "estimated_price_models": list(summary.estimated_models),
        "prices_as_of": prices.as_of,
    }


def me_ai_usage(con: Connection, week: str, cfg: Config) -> dict[str, Any]:
    """`usage_between` for one ISO week (UTC bounds), with the week's name."""
    period = parse_week(week)
    return {"week": str(period), **usage_between(con, period.start, period.end, cfg)}
