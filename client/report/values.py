"""One person's true values for a release window, computed from the local DuckDB.

These are the numbers before anything is clipped, noised or shared; they never leave the
machine. Every query aggregates to a count, so no id, key or text of the store can reach a
report. Shares are over the person's own denominator, and a person without one (no AI
tokens; no observed committed lines, or a window whose committed lines are mostly unknown)
has its gate flag at 0 and so contributes nothing to that share.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from worktally.client.attribution import outcomes
from worktally.client.attribution.commits import LineClasses, line_classes_between
from worktally.client.config import Config
from worktally.client.wire.measurement import METRIC_NAMES
from worktally.client.wire.windows import Window

Connection = duckdb.DuckDBPyConnection
PER_MILLE = 1000


@dataclass(frozen=True)
class WindowValues:
    """The metrics of report schema v2 for one window, plus what they were computed from."""

    window: Window
    values: dict[str, int]
    lines: LineClasses
    tokens_total: int
    sessions_total: int

    @property
    def mostly_unknown(self) -> bool:
        return self.lines.mostly_unknown()


def per_mille(part: int, whole: int) -> int:
    """round(1000 * part / whole) in integers; the caller makes sure `whole` is positive."""
    return (PER_MILLE * part + whole // 2) // whole


def per_week(count: int, window: Window) -> int:
    """A window's count as a weekly rate, rounded up so activity never reports as zero."""
    if count <= 0:
        return 0
    return -(-count * 7 // round(window.weeks * 7))


def _surviving(con: Connection, window: Window) -> int:
    # Survival is known only once a commit is `days` old, so a window reports the lines
    # whose survival check closed in it.
    row = con.execute(
        "SELECT coalesce(sum(s.ai_surviving), 0) FROM survival AS s "
        "JOIN commits AS c USING (repo_id, sha) "
        "WHERE c.reachable AND c.committed_at + to_days(s.days) >= ? "
        "AND c.committed_at + to_days(s.days) < ?",
        [window.start, window.end],
    ).fetchone()
    return int(row[0]) if row else 0


def window_values(con: Connection, window: Window, cfg: Config) -> WindowValues:
    """Compute every metric of `measurement.SECURE_METRICS` for `window` (UTC bounds)."""
    summary = outcomes.summary_between(con, window.start, window.end, cfg, window.label)
    sessions = summary.shipped + summary.edited + summary.repo_context + summary.no_context
    lines = line_classes_between(con, window.start, window.end)
    ai_active = summary.tokens_total > 0
    lines_observed = lines.observed > 0 and not lines.mostly_unknown()
    ai_written = lines.ai + lines.ai_modified
    values = {
        "ai_active": int(ai_active),
        "shipped_token_share_pm": (per_mille(summary.tokens_shipped, summary.tokens_total)
                                   if ai_active else 0),
        "no_context_session_share_pm": (per_mille(summary.no_context, sessions)
                                        if ai_active and sessions else 0),
        "lines_observed": int(lines_observed),
        "ai_line_share_pm": per_mille(ai_written, lines.observed) if lines_observed else 0,
        "ai_tokens_k_per_week": per_week(-(-summary.tokens_total // 1000), window),
        "ai_lines_committed_per_week": per_week(ai_written, window),
        "ai_lines_surviving_per_week": per_week(_surviving(con, window), window),
    }
    assert tuple(values) == METRIC_NAMES, "values must follow the schema's order"
    return WindowValues(window, values, lines, summary.tokens_total, sessions)
