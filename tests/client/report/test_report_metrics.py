"""The raw weekly vector from a real DuckDB file: what counts, what the week bounds, clipping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from report_support import seed_week

from worktally.client.attribution.outcomes import WeeklySessions
from worktally.client.config import Config
from worktally.client.errors import WorktallyError
from worktally.client.report import metrics
from worktally.client.store import db
from worktally.client.wire.periods import last_complete_week, parse_week, week_of
from worktally.client.wire.schema import METRIC_NAMES, METRICS_BY_NAME

WEEK = parse_week("2026-W20")


def test_week_parsing_and_bounds() -> None:
    assert WEEK.start == dt.datetime(2026, 5, 11, tzinfo=dt.UTC)
    assert WEEK.end - WEEK.start == dt.timedelta(days=7)
    assert str(WEEK.shifted(-20)) == "2025-W52"
    assert last_complete_week(dt.datetime(2026, 5, 13, tzinfo=dt.UTC)) == parse_week("2026-W19")
    assert week_of(WEEK.end - dt.timedelta(microseconds=1)) == WEEK
    for bad in ("2026-20", "2026-W54", "W20"):
        with pytest.raises(WorktallyError, match="ISO week"):
            parse_week(bad)


def test_raw_vector_counts_only_the_week(worktally_home: Path) -> None:
    con = db.connect()
    seed_week(con, WEEK)
    seed_week(con, WEEK.shifted(1), canary="next", ai_lines=7)
    report = metrics.raw_report(con, WEEK, Config())
    values = report.as_dict()
    assert tuple(values) == METRIC_NAMES
    assert values["active"] == 1
    assert values["ai_lines_inserted"] == 40
    assert values["ai_lines_committed"] == 30
    assert values["ai_committed_share_pm"] == 300
    assert values["ai_lines_surviving"] == 17
    # 12,345 tokens round up to 13 thousand.
    assert values["ai_tokens_k"] == 13
    # The seeded session edited a repo but none of its lines reached a commit.
    assert values["sessions_edited"] == 1
    assert values["sessions_shipped"] == values["shipped_token_share_pm"] == 0
    empty = metrics.raw_report(con, WEEK.shifted(-3), Config()).as_dict()
    assert set(empty.values()) == {0}


def test_volumes_are_clipped_to_the_schema_bounds(worktally_home: Path) -> None:
    con = db.connect()
    seed_week(con, WEEK, ai_lines=3500, tokens=50_000_000)
    values = metrics.raw_report(con, WEEK, Config()).as_dict()
    assert values["ai_lines_inserted"] == METRICS_BY_NAME["ai_lines_inserted"].upper
    assert values["ai_tokens_k"] == METRICS_BY_NAME["ai_tokens_k"].upper


def test_summary_fields_become_shares_and_counts() -> None:
    summary = WeeklySessions(week="2026-W20", shipped=3, edited=0, repo_context=0,
                             no_context=40, tokens_total=3000, tokens_shipped=1000)
    assert (summary.shipped, summary.no_context) == (3, 40)
    assert metrics.per_mille(summary.tokens_shipped, summary.tokens_total) == 333
    assert metrics.per_mille(2, 3) == 667
    assert metrics.per_mille(5, 0) == 0
    assert metrics.clip(40, 0, 30) == 30


def test_shipped_token_share_and_no_context_sessions(worktally_home: Path) -> None:
    con = db.connect()
    seed_week(con, WEEK, tokens=30_000)
    at = WEEK.start + dt.timedelta(days=2, hours=4)
    # One of the session's lines reaches the commit: the session (30k tokens) shipped.
    con.execute("INSERT INTO commit_lines VALUES ('canary-repo', 'canary-sha', 1, 'ai', "
                "'canary-tool', 'agent', 'canary-session')")
    # A chat outside any repo that used 10k tokens.
    con.execute("INSERT INTO ai_sessions VALUES ('chat', 'browser-chat', 'chat', NULL, ?, ?, "
                "false)", [at, at])
    con.execute("INSERT INTO token_usage VALUES ('u2', 'chat', 'browser-chat', 'm', ?, 9000, "
                "1000, 0, 0, false, 'transcript')", [at])
    values = metrics.raw_report(con, WEEK, Config()).as_dict()
    assert values["sessions_shipped"] == 1
    assert values["sessions_no_context"] == 1
    assert values["shipped_token_share_pm"] == 750
    assert values["ai_tokens_k"] == 40
