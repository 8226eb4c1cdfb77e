"""Token usage rows reach DuckDB exactly as recorded, and a wrong-typed one is quarantined."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worktally.client.capture.records import TokenUsage
from worktally.client.capture.spool import Spool
from worktally.client.store import db
from worktally.client.store.drain import drain, write_token_usage


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


@pytest.fixture
def con(tmp_path):
    connection = db.connect(tmp_path / "usage-test.duckdb")
    yield connection
    connection.close()


COUNTS = st.integers(min_value=0, max_value=2**62)
USAGE = st.builds(
    TokenUsage,
    usage_id=st.text(min_size=1, max_size=30), session_id=st.text(max_size=30),
    tool=st.sampled_from(["claude-code", "codex"]), model=st.text(min_size=1, max_size=20),
    input_tokens=COUNTS, output_tokens=COUNTS, cache_creation_tokens=COUNTS,
    cache_read_tokens=COUNTS, is_sidechain=st.booleans(),
    origin=st.sampled_from(["transcript", "otlp"]),
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(usages=st.lists(USAGE, max_size=8, unique_by=lambda u: u.usage_id))
def test_every_field_round_trips(con, usages):
    con.execute("DELETE FROM token_usage")
    write_token_usage(con, usages)
    rows = con.execute(
        "SELECT usage_id, session_id, tool, model, input_tokens, output_tokens, "
        "cache_creation_tokens, cache_read_tokens, is_sidechain, origin, ts FROM token_usage"
    ).fetchall()
    want = [
        (u.usage_id, u.session_id, u.tool, u.model, u.input_tokens, u.output_tokens,
         u.cache_creation_tokens, u.cache_read_tokens, u.is_sidechain, u.origin,
         dt.datetime.fromtimestamp(u.ts, tz=dt.UTC))
        for u in usages
    ]
    assert sorted(rows) == sorted(want)


def test_upsert_keeps_the_main_thread_copy_then_the_largest(con):
    small = TokenUsage("u1", "s", "claude-code", "m", 1, 1, is_sidechain=False, ts=1.7e9)
    side = TokenUsage("u1", "s", "claude-code", "m", 9, 9, is_sidechain=True, ts=1.7e9)
    larger = TokenUsage("u1", "s", "claude-code", "m", 2, 5, is_sidechain=False, ts=1.7e9)
    for usage in (small, side, larger, small):
        write_token_usage(con, [usage])
    assert con.execute(
        "SELECT input_tokens, output_tokens, is_sidechain FROM token_usage"
    ).fetchall() == [(2, 5, False)]


def test_wrong_typed_usage_in_the_spool_is_quarantined(con, tmp_path):
    spool = Spool(tmp_path / "s")
    good = TokenUsage("good", "s", "codex", "m", 3, 4, ts=1.7e9)
    spool.write([good])
    poison = spool.new / "00000000000000000001-poison.json"
    bad = {"type": "token_usage", "usage_id": "bad", "session_id": "s", "tool": "codex",
           "model": "m", "input_tokens": "many", "output_tokens": 1, "ts": 1.7e9}
    poison.write_text(json.dumps({"version": 1, "batch_id": "poison", "records": [bad]}))
    result = drain(con, spool)
    assert result.quarantined == 1
    assert (spool.bad / poison.name).exists()
    assert con.execute("SELECT usage_id FROM token_usage").fetchall() == [("good",)]
