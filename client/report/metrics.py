"""One person's raw weekly metric vector, computed from the local DuckDB and clipped.

Only counts leave this module: every query aggregates to a number, so no id, key or text of
the local store can reach the report. Session outcomes and the token split come from
`worktally.client.outcomes.weekly_session_summary`, which counts each request once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from worktally.client.attribution import outcomes
from worktally.client.config import Config
from worktally.client.wire.periods import IsoWeek
from worktally.client.wire.schema import METRIC_NAMES, METRICS

Connection = duckdb.DuckDBPyConnection
PER_MILLE = 1000


@dataclass(frozen=True)
class RawReport:
    """The un-noised, clipped vector in schema.METRICS order; it never leaves the machine."""

    period: str
    values: tuple[int, ...]

    def as_dict(self) -> dict[str, int]:
        return dict(zip(METRIC_NAMES, self.values, strict=True))


def clip(value: int, lower: int, upper: int) -> int:
    return max(lower, min(upper, value))


def per_mille(part: int, whole: int) -> int:
    """round(1000 * part / whole) in integers; 0 when there is no denominator."""
    if whole <= 0:
        return 0
    return (PER_MILLE * part + whole // 2) // whole


def _scalar(con: Connection, sql: str, params: list[Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def raw_report(con: Connection, week: IsoWeek, cfg: Config) -> RawReport:
    """Compute and clip the week's vector (values in schema.METRICS order)."""
    start, end = week.start, week.end
    ai_inserted = _scalar(
        con, "SELECT count(*) FROM edit_lines WHERE source = 'ai' AND ts >= ? AND ts < ?",
        [start, end],
    )
    committed = con.execute(
        "SELECT coalesce(sum(ai_lines), 0), coalesce(sum(lines_added), 0) FROM commits "
        "WHERE reachable AND NOT is_merge AND committed_at >= ? AND committed_at < ?",
        [start, end],
    ).fetchone() or (0, 0)
    ai_committed, lines_added = int(committed[0]), int(committed[1])
    # Survival is known only once a commit is `days` old, so the week reports the lines
    # whose survival window closed in it.
    surviving = _scalar(
        con,
        "SELECT sum(s.ai_surviving) FROM survival AS s JOIN commits AS c USING (repo_id, sha) "
        "WHERE c.reachable AND c.committed_at + to_days(s.days) >= ? "
        "AND c.committed_at + to_days(s.days) < ?",
        [start, end],
    )
    sessions_in_week = _scalar(
        con, "SELECT count(*) FROM ai_sessions WHERE started_at < ? AND ended_at >= ?",
        [end, start],
    )
    summary = outcomes.weekly_session_summary(con, str(week), cfg)
    tokens = summary.tokens_total
    raw = {
        "active": int(ai_inserted > 0 or sessions_in_week > 0 or tokens > 0),
        # Ceiling division: a week with any tokens never reports zero thousand.
        "ai_tokens_k": -(-tokens // 1000),
        "shipped_token_share_pm": per_mille(summary.tokens_shipped, summary.tokens_total),
        "ai_lines_inserted": ai_inserted,
        "ai_lines_committed": ai_committed,
        "ai_committed_share_pm": per_mille(ai_committed, lines_added),
        "ai_lines_surviving": surviving,
        "sessions_shipped": summary.shipped,
        "sessions_edited": summary.edited,
        "sessions_repo_context": summary.repo_context,
        "sessions_no_context": summary.no_context,
    }
    values = tuple(clip(raw[m.name], m.lower, m.upper) for m in METRICS)
    return RawReport(str(week), values)
