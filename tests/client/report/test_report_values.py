"""A window's true values: shares over their own denominators, flags that gate them, volumes
per week; nothing but integers, and nothing from an unobserved or empty window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from report_support import seed_week

from worktally.client.attribution import outcomes
from worktally.client.config import Config
from worktally.client.report.values import per_mille, per_week, window_values
from worktally.client.store import db
from worktally.client.wire import measurement
from worktally.client.wire.windows import WindowKind, parse_window

QUARTER = parse_window(WindowKind.QUARTER, "2026-Q2")
WEEK = parse_window(WindowKind.WEEK, "2026-W20")


@pytest.fixture
def con(worktally_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = db.connect()
    yield connection
    connection.close()


def test_a_seeded_week_inside_the_quarter(con) -> None:
    seed_week(con, WEEK, canary="zq-canary", ai_lines=40, tokens=50_000)
    got = window_values(con, QUARTER, Config())
    summary = outcomes.summary_between(con, QUARTER.start, QUARTER.end, Config(), "q")
    assert summary.tokens_total == 50_000
    values = got.values
    assert tuple(values) == measurement.METRIC_NAMES
    assert all(isinstance(v, int) for v in values.values())
    assert values["ai_active"] == 1
    assert values["shipped_token_share_pm"] == per_mille(summary.tokens_shipped, 50_000)
    # The seeded commits: 100 lines (30 AI) and, two weeks earlier, 20 (all AI); all observed.
    assert (got.lines.observed, got.lines.ai) == (120, 50)
    assert values["lines_observed"] == 1 and values["ai_line_share_pm"] == per_mille(50, 120)
    assert values["ai_tokens_k_per_week"] == per_week(50, QUARTER) == 4  # 50k over 13 weeks
    assert values["ai_lines_committed_per_week"] == per_week(50, QUARTER)
    # And the report vector it makes shards under the VDAF's own bounds.
    vdaf = measurement.vdaf()
    _public, shares = vdaf.shard(measurement.ctx(bytes(32)), measurement.measurement(values),
                                bytes(16), bytes(vdaf.RAND_SIZE))
    assert len(shares) == 2


def test_no_denominator_means_the_flag_is_off_and_the_share_is_zero(con) -> None:
    got = window_values(con, QUARTER, Config())
    assert got.values["ai_active"] == 0 and got.values["shipped_token_share_pm"] == 0
    assert got.values["lines_observed"] == 0 and got.values["ai_line_share_pm"] == 0
    assert got.lines.total == 0 and got.mostly_unknown is False


def test_a_window_of_mostly_unknown_lines_is_left_out_of_the_line_share(con) -> None:
    at = WEEK.start + dt.timedelta(days=1)
    # 100 lines: 10 AI, 5 human, 85 never observed (history, another machine...).
    con.execute("INSERT INTO commits VALUES ('r', 's', ?, false, 100, 10, 0, 0, 5, true, ?, "
                "0, 85)", [at, at])
    got = window_values(con, QUARTER, Config())
    assert got.mostly_unknown is True
    assert got.values["lines_observed"] == 0 and got.values["ai_line_share_pm"] == 0


def test_per_week_rounds_activity_up_and_nothing_stays_nothing() -> None:
    assert per_week(0, QUARTER) == 0
    assert per_week(1, QUARTER) == 1
    assert per_week(130, QUARTER) == 10
    assert per_week(7, WEEK) == 7
