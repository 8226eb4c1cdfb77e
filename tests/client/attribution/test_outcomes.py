"""Session outcomes from real rows: drain writers, a real git repo and real attribution."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from attribution_support import KEYER, numbered, open_db, record, repo_for

from worktally.client.attribution.commits import attribute_new_commits
from worktally.client.attribution.outcomes import (
    me_ai_usage,
    session_outcomes,
    weekly_session_summary,
)
from worktally.client.capture.records import AISession, TokenUsage
from worktally.client.config import Config
from worktally.client.store import drain
from worktally.client.wire.periods import week_of

CFG = Config()
DAY_S = 86_400
SONNET = "claude-sonnet-4-20250514"


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def _session(con: duckdb.DuckDBPyConnection, session_id: str, start: float,
             repo_id: str | None, tool: str = "claude-code") -> None:
    drain.write_sessions(con, [AISession(session_id=session_id, tool=tool, kind="agent",
                                         repo_id=repo_id, started_at=start,
                                         ended_at=start + 60)])


def _tokens(con: duckdb.DuckDBPyConnection, session_id: str, ts: float, output: int,
            tool: str = "claude-code") -> None:
    drain.write_token_usage(con, [TokenUsage(
        usage_id=f"u-{session_id}-{ts}", session_id=session_id, tool=tool, model=SONNET,
        input_tokens=0, output_tokens=output, ts=ts,
    )])


@pytest.fixture
def world(tmp_path: Path, git_repo: Any) -> tuple[duckdb.DuckDBPyConnection, float]:
    """One session of each outcome, plus two completion streams, all starting at t0."""
    con = open_db(tmp_path)
    repo = git_repo()
    registered = repo_for(repo.root)
    rid = registered.repo_id
    t0 = time.time() - 2 * 3600
    late = t0 - 10 * DAY_S

    _session(con, "s-shipped", t0, rid)
    shipped_lines = numbered("shipped", 4)
    record(con, "ai", shipped_lines, ts=t0, tool="claude-code", session_id="s-shipped",
           repo_id=rid)
    _tokens(con, "s-shipped", t0, 1000)

    _session(con, "s-edited", t0, rid)
    record(con, "ai", numbered("edited", 3), ts=t0, tool="claude-code", session_id="s-edited",
           repo_id=rid)

    # Its lines are committed now, ten days after it ended: outside the 7-day window.
    _session(con, "s-late", late, rid)
    late_lines = numbered("late", 3)
    record(con, "ai", late_lines, ts=late, tool="claude-code", session_id="s-late", repo_id=rid)
    _tokens(con, "s-late", late, 300)

    _session(con, "s-context", t0, rid)
    _session(con, "s-none", t0, None)
    _tokens(con, "s-none", t0, 500)
    _tokens(con, "s-orphan", t0, 70, tool="gemini-cli")

    copilot_lines = numbered("copilot", 3)
    record(con, "ai", copilot_lines, ts=t0, tool="copilot", repo_id=rid, kind="completion")
    record(con, "ai", numbered("tabnine", 3), ts=t0, tool="tabnine", repo_id=rid,
           kind="completion")

    repo.commit(files={"a.py": "\n".join(shipped_lines + late_lines + copilot_lines) + "\n"})
    assert attribute_new_commits(con, KEYER, registered, CFG) == 1
    return con, t0


def test_each_session_gets_its_outcome(world: tuple[duckdb.DuckDBPyConnection, float]) -> None:
    con, t0 = world
    day = dt.datetime.fromtimestamp(t0, dt.UTC).strftime("%Y-%m-%d")
    now = dt.datetime.now(dt.UTC)
    outcomes = {o.session_id: o for o in session_outcomes(con, CFG, now)}
    assert {sid: o.outcome for sid, o in outcomes.items()} == {
        "s-shipped": "shipped", "s-edited": "edited", "s-late": "edited",
        "s-context": "repo_context", "s-none": "no_context", "s-orphan": "no_context",
        f"copilot:stream:{day}": "shipped", f"tabnine:stream:{day}": "edited",
    }
    assert outcomes["s-shipped"].tokens == 1000
    assert outcomes[f"copilot:stream:{day}"].kind == "completion"
    assert outcomes["s-late"].settled and not outcomes["s-edited"].settled


def test_a_longer_window_ships_the_late_session(
    world: tuple[duckdb.DuckDBPyConnection, float],
) -> None:
    con, _ = world
    wide = Config(attribution=type(CFG.attribution)(commit_window_days=30))
    outcomes = {o.session_id: o.outcome for o in session_outcomes(con, wide,
                                                                  dt.datetime.now(dt.UTC))}
    assert outcomes["s-late"] == "shipped"


def test_weekly_summary_counts_sessions_started_in_the_week(
    world: tuple[duckdb.DuckDBPyConnection, float],
) -> None:
    con, t0 = world
    week = str(week_of(dt.datetime.fromtimestamp(t0, dt.UTC)))
    summary = weekly_session_summary(con, week, CFG)
    assert (summary.shipped, summary.edited, summary.repo_context, summary.no_context) == (
        2, 2, 1, 2)
    assert (summary.tokens_total, summary.tokens_shipped) == (1570, 1000)


def test_me_ai_usage_has_tokens_sessions_and_cost(
    world: tuple[duckdb.DuckDBPyConnection, float],
) -> None:
    con, t0 = world
    week = str(week_of(dt.datetime.fromtimestamp(t0, dt.UTC)))
    usage = me_ai_usage(con, week, CFG)
    assert usage["week"] == week
    assert usage["sessions"] == {"shipped": 2, "edited": 2, "repo_context": 1, "no_context": 2}
    assert usage["tokens"] == {"shipped": 1000, "edited": 0, "repo_context": 0,
                               "no_context": 570}
    assert usage["by_tool"]["claude-code"]["tokens"] == 1500
    assert usage["by_tool"]["gemini-cli"]["sessions"] == 1
    assert usage["cost_usd"] == pytest.approx(1570 * 15 / 1e6)
    assert usage["cost_usd_by_outcome"]["shipped"] == pytest.approx(1000 * 15 / 1e6)


def test_an_empty_database_has_no_sessions(tmp_path: Path) -> None:
    con = open_db(tmp_path)
    assert session_outcomes(con, CFG, dt.datetime.now(dt.UTC)) == []
    summary = weekly_session_summary(con, "2026-W48", CFG)
    assert (summary.shipped, summary.tokens_total) == (0, 0)
