"""The developer's own view of a period (`worktally me`), which never leaves the machine.

Edits by source, committed lines by class (shares over observed lines only), AI use by
tool, model and repo with tokens and cost, and optionally the same day by day. Repos appear
as keyed ids here; only the CLI maps them to local paths, from `repos.json`. Tokens of a
model with no price are counted as unpriced, never as $0.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from worktally.client.attribution import outcomes, pricing
from worktally.client.attribution.commits import LineClasses, line_classes_between
from worktally.client.capture.records import EDIT_SOURCES
from worktally.client.config import Config
from worktally.client.store import queries

Connection = duckdb.DuckDBPyConnection


@dataclass(frozen=True)
class Usage:
    """Tokens of some AI use and what the priced part of them cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0
    # Tokens of models the price table does not know: their cost is unknown, not 0.
    unpriced_tokens: int = 0

    @property
    def tokens(self) -> int:
        return (self.input_tokens + self.output_tokens + self.cache_creation_tokens
                + self.cache_read_tokens)

    def plus(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
            self.cache_creation_tokens + other.cache_creation_tokens,
            self.cache_read_tokens + other.cache_read_tokens, self.cost_usd + other.cost_usd,
            self.unpriced_tokens + other.unpriced_tokens,
        )

    def to_json(self) -> dict[str, Any]:
        """`cost_usd` is null when every token is unpriced (there is no cost to show)."""
        unpriced_only = self.tokens > 0 and self.unpriced_tokens == self.tokens
        return {
            "tokens": self.tokens, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost_usd": None if unpriced_only else round(self.cost_usd, 6),
            "unpriced_tokens": self.unpriced_tokens,
        }


def _one_request(prices: pricing.PriceTable, model: str, i: int, o: int, cw: int,
                 cr: int) -> tuple[Usage, pricing.Cost]:
    cost = pricing.usage_cost(prices, model, i, o, cw, cr)
    unpriced = 0 if cost.priced else i + o + cw + cr
    return Usage(i, o, cw, cr, cost.usd, unpriced), cost


@dataclass(frozen=True)
class UsageRow:
    """One deduplicated request of `token_usage_effective`."""

    ts: dt.datetime
    session_id: str
    tool: str
    model: str
    usage: Usage
    cost: pricing.Cost


def usage_rows(con: Connection, start: dt.datetime, end: dt.datetime,
               prices: pricing.PriceTable) -> list[UsageRow]:
    rows = con.execute(
        """
        SELECT ts, session_id, tool, model, input_tokens, output_tokens,
               cache_creation_tokens, cache_read_tokens
        FROM token_usage_effective WHERE ts >= ? AND ts < ? ORDER BY ts
        """,
        [start, end],
    ).fetchall()
    out = []
    for ts, session, tool, model, i, o, cw, cr in rows:
        usage, cost = _one_request(prices, str(model), int(i), int(o), int(cw), int(cr))
        out.append(UsageRow(ts, str(session), str(tool), str(model), usage, cost))
    return out


@dataclass(frozen=True)
class ToolView:
    tool: str
    sessions: int
    usage: Usage
    ai_lines: int
    ai_modified_lines: int

    def to_json(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "usage": self.usage.to_json(),
                "ai_lines": self.ai_lines, "ai_modified_lines": self.ai_modified_lines}


@dataclass(frozen=True)
class ModelView:
    model: str
    tools: tuple[str, ...]
    usage: Usage
    priced: bool
    # Priced from a public list price rather than the reference table (`estimate` rows).
    estimate: bool

    def to_json(self) -> dict[str, Any]:
        return {"tools": list(self.tools), "usage": self.usage.to_json(),
                "priced": self.priced, "estimate": self.estimate}


@dataclass(frozen=True)
class RepoView:
    """One repo by keyed id (None: edits and AI use outside any registered repo)."""

    repo_id: str | None
    commits: int
    lines: LineClasses
    edit_lines: int
    usage: Usage

    def to_json(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "commits": self.commits,
                "committed_lines": self.lines.to_json(), "edit_lines": self.edit_lines,
                "usage": self.usage.to_json()}


@dataclass(frozen=True)
class DayView:
    day: dt.date
    edit_lines: Mapping[str, int]
    commits: int
    lines: LineClasses
    usage: Usage

    def to_json(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "edit_lines": dict(self.edit_lines),
                "commits": self.commits, "committed_lines": self.lines.to_json(),
                "usage": self.usage.to_json()}


@dataclass(frozen=True)
class MeView:
    """Everything `worktally me` shows for [start, end) (local time)."""

    start: dt.datetime
    end: dt.datetime
    week: str | None
    edit_lines: Mapping[str, int]
    commits: int
    lines_added: int
    lines: LineClasses
    ai_by_tool: Mapping[str, int]
    ai_by_kind: Mapping[str, int]
    survival_checked: int
    survival_surviving: int
    ai_usage: Mapping[str, Any]
    by_tool: tuple[ToolView, ...]
    by_model: tuple[ModelView, ...]
    by_repo: tuple[RepoView, ...]
    days: tuple[DayView, ...] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        lines = self.lines
        checked, surviving = self.survival_checked, self.survival_surviving
        return {
            "week": self.week,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "edit_lines": dict(self.edit_lines),
            "commits": self.commits,
            "committed_lines": {
                "added": self.lines_added, "ai": lines.ai, "ai_modified": lines.ai_modified,
                "human": lines.human, "bulk": lines.bulk, "external": lines.external,
                "unknown": lines.unknown, "observed": lines.observed,
            },
            "ai_share_pm": lines.ai_share_pm(),
            "mostly_unknown": lines.mostly_unknown(),
            "ai_committed_by_tool": dict(self.ai_by_tool),
            "ai_committed_by_kind": dict(self.ai_by_kind),
            "survival": {
                "ai_lines_checked": checked,
                "ai_lines_surviving": surviving,
                "rate": round(surviving / checked, 4) if checked else None,
            },
            "ai_usage": dict(self.ai_usage),
            "by_tool": {t.tool: t.to_json() for t in self.by_tool},
            "by_model": {m.model: m.to_json() for m in self.by_model},
            "by_repo": [r.to_json() for r in self.by_repo],
            "days": None if self.days is None else [d.to_json() for d in self.days],
        }


DayBounds = tuple[dt.date, dt.datetime, dt.datetime]


def local_days(start: dt.datetime, end: dt.datetime) -> list[DayBounds]:
    """The local calendar days in [start, end), each with its own bounds (DST-safe)."""
    out: list[DayBounds] = []
    day = start.astimezone().date()
    while True:
        lower = dt.datetime.combine(day, dt.time()).astimezone()
        upper = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()).astimezone()
        if lower >= end:
            return out
        out.append((day, max(lower, start), min(upper, end)))
        day += dt.timedelta(days=1)


def _ai_lines_by(con: Connection, start: dt.datetime, end: dt.datetime,
                 column: str) -> dict[tuple[str, str], int]:
    rows = con.execute(
        f"""
        SELECT l.source, coalesce(l.{column}, 'unknown'), count(*)
        FROM commit_lines AS l JOIN commits AS c USING (repo_id, sha)
        WHERE l.source IN ('ai', 'ai_modified') AND c.reachable
          AND c.committed_at >= ? AND c.committed_at < ?
        GROUP BY ALL ORDER BY ALL
        """,
        [start, end],
    ).fetchall()
    return {(str(source), str(name)): int(n) for source, name, n in rows}


def _commits_count(con: Connection, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    row = con.execute(
        "SELECT count(*), coalesce(sum(lines_added), 0) FROM commits "
        "WHERE reachable AND committed_at >= ? AND committed_at < ?",
        [start, end],
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _survival(con: Connection, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    row = con.execute(
        """
        SELECT coalesce(sum(s.ai_lines), 0), coalesce(sum(s.ai_surviving), 0)
        FROM survival AS s JOIN commits AS c USING (repo_id, sha)
        WHERE c.reachable AND c.committed_at >= ? AND c.committed_at < ?
        """,
        [start, end],
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _by_repo(con: Connection, start: dt.datetime, end: dt.datetime, rows: list[UsageRow],
             session_repo: Mapping[str, str | None]) -> tuple[RepoView, ...]:
    committed = con.execute(
        """
        SELECT repo_id, count(*), sum(ai_lines), sum(ai_modified_lines), sum(human_lines),
               sum(bulk_lines), sum(external_lines), sum(unknown_lines)
        FROM commits WHERE reachable AND committed_at >= ? AND committed_at < ?
        GROUP BY repo_id
        """,
        [start, end],
    ).fetchall()
    commits: dict[str | None, tuple[int, LineClasses]] = {}
    for repo, n, ai, modified, human, bulk, external, unknown in committed:
        commits[str(repo)] = (int(n), LineClasses(int(ai), int(modified), int(human),
                                                  int(bulk), int(external), int(unknown)))
    edits = {r[0]: int(r[1]) for r in con.execute(
        "SELECT repo_id, sum(line_count) FROM edits WHERE ts >= ? AND ts < ? GROUP BY repo_id",
        [start, end],
    ).fetchall()}
    usage: dict[str | None, Usage] = defaultdict(Usage)
    for row in rows:
        repo = session_repo.get(row.session_id)
        usage[repo] = usage[repo].plus(row.usage)
    repos = set(commits) | set(edits) | set(usage)
    out = []
    for repo in repos:
        n, lines = commits.get(repo, (0, LineClasses()))
        out.append(RepoView(repo, n, lines, edits.get(repo, 0), usage.get(repo, Usage())))
    # Busiest first; the no-repo row last among equals.
    out.sort(key=lambda r: (-r.lines.total, -r.usage.tokens, r.repo_id is None, r.repo_id or ""))
    return tuple(out)


def _by_day(con: Connection, start: dt.datetime, end: dt.datetime,
            rows: list[UsageRow]) -> tuple[DayView, ...]:
    days = local_days(start, end)
    if not days:
        return ()
    bounds = {"labels": [d.isoformat() for d, _, _ in days], "starts": [s for _, s, _ in days],
              "ends": [e for _, _, e in days]}
    day_table = ("(SELECT unnest($labels) AS label, unnest($starts) AS lo, "
                 "unnest($ends) AS hi) AS d")
    edit_rows = con.execute(
        f"SELECT d.label, x.source, sum(x.line_count) FROM edits AS x JOIN {day_table} "
        "ON x.ts >= d.lo AND x.ts < d.hi GROUP BY ALL",
        bounds,
    ).fetchall()
    commit_rows = con.execute(
        f"""
        SELECT d.label, count(*), sum(ai_lines), sum(ai_modified_lines), sum(human_lines),
               sum(bulk_lines), sum(external_lines), sum(unknown_lines)
        FROM commits AS c JOIN {day_table} ON c.committed_at >= d.lo AND c.committed_at < d.hi
        WHERE c.reachable GROUP BY d.label
        """,
        bounds,
    ).fetchall()
    edits: dict[str, dict[str, int]] = defaultdict(dict)
    for label, source, n in edit_rows:
        edits[str(label)][str(source)] = int(n)
    commits = {str(r[0]): (int(r[1]), LineClasses(*(int(v) for v in r[2:]))) for r in commit_rows}
    usage: dict[dt.date, Usage] = defaultdict(Usage)
    for row in rows:
        day = row.ts.astimezone().date()
        usage[day] = usage[day].plus(row.usage)
    out: list[DayView] = []
    for day, _, _ in days:
        label = day.isoformat()
        by_source = {source: edits[label].get(source, 0) for source in EDIT_SOURCES}
        n, lines = commits.get(label, (0, LineClasses()))
        out.append(DayView(day, by_source, n, lines, usage.get(day, Usage())))
    return tuple(out)



def me_view(con: Connection, start: dt.datetime, end: dt.datetime, cfg: Config,
            week: str | None = None, daily: bool = False,
            prices: pricing.PriceTable | None = None) -> MeView:
    """The developer's own [start, end): local bounds, reachable commits only."""
    table = prices or pricing.load_price_table()
    sessions = outcomes.session_outcomes(con, cfg, dt.datetime.now(dt.UTC))
    rows = usage_rows(con, start, end, table)
    n_commits, added = _commits_count(con, start, end)
    by_kind_rows = _ai_lines_by(con, start, end, "kind")
    by_tool_rows = _ai_lines_by(con, start, end, "tool")
    checked, surviving = _survival(con, start, end)

    tool_sessions = Counter(s.tool for s in sessions if start <= s.started_at < end)
    tool_usage: dict[str, Usage] = defaultdict(Usage)
    model_usage: dict[str, Usage] = defaultdict(Usage)
    model_tools: dict[str, set[str]] = defaultdict(set)
    model_cost: dict[str, pricing.Cost] = {}
    for row in rows:
        tool_usage[row.tool] = tool_usage[row.tool].plus(row.usage)
        model_usage[row.model] = model_usage[row.model].plus(row.usage)
        model_tools[row.model].add(row.tool)
        model_cost[row.model] = row.cost
    tools = sorted(set(tool_sessions) | set(tool_usage)
                   | {name for _, name in by_tool_rows})
    by_tool = tuple(
        ToolView(tool, tool_sessions.get(tool, 0), tool_usage.get(tool, Usage()),
                 by_tool_rows.get(("ai", tool), 0), by_tool_rows.get(("ai_modified", tool), 0))
        for tool in tools
    )
    by_model = tuple(
        ModelView(model, tuple(sorted(model_tools[model])), model_usage[model],
                  model_cost[model].priced, model_cost[model].estimate)
        for model in sorted(model_usage, key=lambda m: (-model_usage[m].tokens, m))
    )
    session_repo = {s.session_id: s.repo_id for s in sessions}
    return MeView(
        start=start, end=end, week=week,
        edit_lines=queries.edit_lines_by_source(con, start, end),
        commits=n_commits, lines_added=added,
        lines=line_classes_between(con, start, end),
        ai_by_tool={name: n for (source, name), n in by_tool_rows.items() if source == "ai"},
        ai_by_kind={name: n for (source, name), n in by_kind_rows.items() if source == "ai"},
        survival_checked=checked, survival_surviving=surviving,
        ai_usage=outcomes.usage_between(con, start, end, cfg, table, sessions),
        by_tool=by_tool, by_model=by_model,
        by_repo=_by_repo(con, start, end, rows, session_repo),
        days=_by_day(con, start, end, rows) if daily else None,
    )
