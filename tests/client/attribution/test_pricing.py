"""Prices: model-name matching, the 200k tier, overrides, unknown models, and ccusage's totals."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from worktally.client.attribution import pricing
from worktally.client.attribution.outcomes import usage_between
from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.config import Config
from worktally.client.errors import ConfigError
from worktally.client.importers import import_tool
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME (the override file lives there)."""


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
        ("claude-sonnet-4@20250514", "claude-sonnet-4"),
        ("anthropic/claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("Claude-Sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("openai/gpt-5.1-codex", "gpt-5.1-codex"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("gemini-2.5-pro", "gemini-2.5-pro"),
        ("kimi-k2-instruct", None),
        ("claude-sonnet-4-20250514-fast", None),
    ],
)
def test_model_names_match_with_or_without_prefix_and_date(model: str,
                                                            expected: str | None) -> None:
    assert pricing.match_model(pricing.load_price_table(), model) == expected


def test_each_token_kind_has_its_own_rate() -> None:
    table = pricing.load_price_table()
    cost = pricing.usage_cost(table, "claude-sonnet-4-20250514", 100_000, 100_000,
                              100_000, 100_000)
    # A tenth of a million of each: input 3, output 15, cache write 3.75, cache read 0.30.
    assert cost.usd == pytest.approx((3 + 15 + 3.75 + 0.30) / 10)
    assert cost.priced and not cost.estimate and cost.matched_model == "claude-sonnet-4"


def test_tokens_of_one_field_above_200k_use_the_higher_tier() -> None:
    table = pricing.load_price_table()
    cost = pricing.usage_cost(table, "claude-sonnet-4", 0, 0, 0, 300_000)
    assert cost.usd == pytest.approx((200_000 * 0.30 + 100_000 * 0.60) / 1e6)
    no_tier = pricing.usage_cost(table, "claude-opus-4-1", 0, 0, 0, 300_000)
    assert no_tier.usd == pytest.approx(300_000 * 1.50 / 1e6)


def test_unknown_model_costs_nothing_and_is_flagged() -> None:
    table = pricing.load_price_table()
    unknown = pricing.usage_cost(table, "kimi-k2-instruct", 1000, 1000)
    synthetic = pricing.usage_cost(table, "<synthetic>", 0, 0)
    estimated = pricing.usage_cost(table, "claude-haiku-4-5-20251001", 1000, 0)
    assert (unknown.usd, unknown.priced) == (0.0, False)
    summary = pricing.summarise_costs([("kimi-k2-instruct", unknown), ("<synthetic>", synthetic),
                                       ("claude-haiku-4-5-20251001", estimated)])
    assert summary.unpriced_models == ("kimi-k2-instruct",)
    assert summary.estimated_models == ("claude-haiku-4-5",)
    assert summary.usd == pytest.approx(1000 * 1.0 / 1e6)


def test_local_override_adds_and_replaces_models(worktally_home: Path) -> None:
    pricing.override_path().write_text(json.dumps({"as_of": "2026-12-01", "models": {
        "kimi-k2-instruct": {"input": 0.6, "output": 2.5, "cache_write": 0.6, "cache_read": 0.15},
        "claude-sonnet-4": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1},
    }}))
    table = pricing.load_price_table()
    assert table.as_of == "2026-12-01"
    assert pricing.usage_cost(table, "kimi-k2-instruct", 1_000_000, 0).usd == pytest.approx(0.6)
    assert pricing.usage_cost(table, "claude-sonnet-4-20250514", 0, 1_000_000).usd == \
        pytest.approx(1.0)
    assert pricing.match_model(table, "gpt-5") == "gpt-5"


@pytest.mark.parametrize("text", ["{not json", '{"models": {"m": {"input": -1}}}', "[]"])
def test_a_broken_override_says_what_to_fix(worktally_home: Path, text: str) -> None:
    pricing.override_path().write_text(text)
    with pytest.raises(ConfigError, match=r"prices\.json"):
        pricing.load_price_table()


def test_shipped_table_is_dated_and_labels_estimates() -> None:
    table = pricing.shipped_table()
    dt.date.fromisoformat(table.as_of)
    assert not table.models["claude-sonnet-4"].estimate
    assert table.models["claude-opus-4-5"].estimate


@pytest.mark.ccusage
@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not present")
def test_sample_costs_match_ccusage(worktally_home: Path) -> None:
    expected_claude = json.loads(
        (SAMPLES / "ccusage-expected" / "ccusage-20.0.24__claude_daily_UTC.json").read_text()
    )["totals"]["totalCost"]
    expected_codex = json.loads(
        (SAMPLES / "ccusage-expected" / "ccusage-20.0.24__codex_daily_UTC.json").read_text()
    )["totals"]["costUSD"]
    keyer = LineKeyer(load_or_create_secret())
    con = db.connect(worktally_home / "worktally.duckdb")
    registry = RepoRegistry(keyer)
    import_tool(con, keyer, registry, "claude-code", sorted((SAMPLES / "claude-code").glob("*")))
    import_tool(con, keyer, registry, "codex",
                sorted((SAMPLES / "codex").glob("acidicsoil__rollout-*.jsonl")))
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    usage = usage_between(con, start, start + dt.timedelta(days=365), Config())
    assert usage["by_tool"]["claude-code"]["cost_usd"] == pytest.approx(expected_claude, abs=1e-5)
    assert usage["by_tool"]["codex"]["cost_usd"] == pytest.approx(expected_codex, abs=1e-5)
    assert usage["unpriced_models"] == []
