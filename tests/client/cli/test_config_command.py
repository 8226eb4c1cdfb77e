"""`worktally config list|get|set|unset` through the real CLI: round trips, the private file,
and every refusal (unknown key, wrong type, a value outside its rule, a bad hand edit)."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from worktally.client import config
from worktally.client.cli import cli
from worktally.client.errors import ConfigError


def run(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, ["config", *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def refused(*args: str) -> str:
    """The one-line message of a command that must exit 1."""
    result = run(*args, ok=False)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    return message


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


def test_list_shows_every_key_with_its_default(worktally_home: Path) -> None:
    rows = run_json("list")
    assert [row["key"] for row in rows] == config.all_keys()
    assert all(row["is_default"] and row["value"] == row["default"] for row in rows)
    epsilon = next(row for row in rows if row["key"] == "report.epsilon")
    assert epsilon == {"key": "report.epsilon", "value": 8.0, "default": 8.0,
                       "is_default": True, "type": "float"}
    text = run("list").stdout
    assert "report.epsilon" in text and "(default)" in text


def test_set_get_list_round_trip(worktally_home: Path) -> None:
    out = run("set", "report.epsilon", "4").stdout
    assert out.strip() == "report.epsilon: 8.0 -> 4.0"
    assert run("get", "report.epsilon").stdout.strip() == "4.0"
    assert run_json("get", "report.epsilon")["value"] == 4.0
    row = next(r for r in run_json("list") if r["key"] == "report.epsilon")
    assert (row["value"], row["is_default"]) == (4.0, False)
    assert "report.epsilon" in run("list").stdout and "(default 8.0)" in run("list").stdout
    assert config.load().report.epsilon == 4.0
    assert run("set", "report.epsilon", "4.0").stdout.strip() == "report.epsilon: 4.0 (unchanged)"


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("otlp.enabled", "false", False),
        ("otlp.enabled", "TRUE", True),
        ("otlp.port", "0", 0),
        ("otlp.port", "65535", 65535),
        ("report.delta", "1e-6", 1e-6),
        ("report.cohort", "web", "web"),
        ("report.aggregator_url", "https://agg.example.com", "https://agg.example.com"),
        ("importers.claude_dirs", "a, b,", ("a", "b")),
        ("importers.claude_dirs", '["x,y", "z"]', ("x,y", "z")),
        ("importers.codex_dirs", "", ()),
    ],
)
def test_values_are_parsed_by_the_keys_type(worktally_home: Path, key: str, text: str,
                                            expected: Any) -> None:
    run("set", key, text)
    assert config.get_value(config.load(), key) == expected
    section, _, name = key.partition(".")
    stored = tomllib.loads((worktally_home / "config.toml").read_text())[section][name]
    assert stored == (list(expected) if isinstance(expected, tuple) else expected)


def test_the_file_is_private_and_keeps_other_keys(worktally_home: Path) -> None:
    run("set", "report.cohort", "web")
    run("set", "otlp.port", "4400")
    path = worktally_home / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(worktally_home.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text()) == {"report": {"cohort": "web"},
                                               "otlp": {"port": 4400}}


def test_unset_returns_to_the_default(worktally_home: Path) -> None:
    run("set", "report.epsilon", "2")
    out = run("unset", "report.epsilon").stdout.strip()
    assert out == "report.epsilon: 2.0 -> 8.0 (the default)"
    assert run_json("get", "report.epsilon")["is_default"]
    assert "already the default" in run("unset", "report.epsilon").stdout
    assert run_json("unset", "report.epsilon") == {"key": "report.epsilon", "old": 8.0,
                                                   "new": 8.0, "changed": False}


def test_unknown_key_lists_the_known_ones(worktally_home: Path) -> None:
    for args in (("set", "report.epsilonn", "4"), ("get", "report.epsilonn"),
                 ("unset", "report.epsilonn")):
        message = refused(*args)
        assert message.startswith("worktally: unknown config key report.epsilonn")
        assert "did you mean report.epsilon?" in message
        assert "known keys: capture.typed_max_chars, " in message
        assert all(key in message for key in config.all_keys())
    assert not (worktally_home / "config.toml").exists()


@pytest.mark.parametrize(
    ("key", "text", "reason"),
    [
        ("report.epsilon", "0", "must be > 0"),
        ("report.epsilon", "-1", "must be > 0"),
        ("report.epsilon", "nan", "must be a finite number > 0"),
        ("report.epsilon", "inf", "must be a finite number > 0"),
        ("report.epsilon", "-inf", "must be a finite number > 0"),
        ("report.epsilon", "lots", "must be a number"),
        ("report.delta", "1", "must be >= 0 and < 1"),
        ("report.delta", "-0.1", "must be >= 0 and < 1"),
        ("otlp.port", "65536", "must be >= 0 and <= 65535"),
        ("otlp.port", "4.5", "must be an integer"),
        ("otlp.enabled", "yes", "must be true or false"),
        ("otlp.max_body_bytes", "0", "must be >= 1"),
        ("capture.flush_interval_ms", "5", "must be >= 10"),
        ("attribution.survival_days", "-1", "must be >= 0"),
        ("report.yearly_epsilon_cap", "17", "must be > 0 and <= 16"),
        ("report.aggregator_url", "ftp://example.com", "must be an http:// or https:// URL"),
        ("importers.claude_dirs", "[1, 2]", "must be a list of strings"),
        ("importers.claude_dirs", '["unclosed"', "must be a list of strings"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(worktally_home: Path, key: str,
                                                       text: str, reason: str) -> None:
    message = refused("set", key, text)
    assert message.startswith(f"worktally: config key {key} {reason}"), message
    assert not (worktally_home / "config.toml").exists()


@pytest.mark.parametrize(
    ("toml", "reason"),
    [
        ("[report]\nepsilon = 0\n", "config key report.epsilon must be > 0"),
        ("[report]\nepsilon = nan\n", "config key report.epsilon must be a finite number > 0"),
        ("[report]\nepsilon = inf\n", "config key report.epsilon must be a finite number > 0"),
        ("[report]\nepsilon = -2\n", "config key report.epsilon must be > 0"),
        ('[report]\nepsilon = "8"\n', "config key report.epsilon must be a number"),
        ("[otlp]\nport = 99999\n", "config key otlp.port must be >= 0 and <= 65535"),
        ("[report]\nepsilonn = 1\n", "unknown config key report.epsilonn"),
        ("epsilon = 1\n", "unknown config key epsilon (did you mean report.epsilon?)"),
        ("[reports]\nepsilon = 1\n", "unknown config section [reports]"),
        ("[report\n", "is not valid TOML"),
    ],
)
def test_a_bad_hand_edit_is_refused_at_load(worktally_home: Path, toml: str,
                                            reason: str) -> None:
    worktally_home.mkdir(parents=True, exist_ok=True)
    (worktally_home / "config.toml").write_text(toml)
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert reason in str(caught.value)
    assert "config.toml" in str(caught.value)
    assert reason in refused("list")


def test_set_repairs_a_bad_hand_edit_of_the_same_key(worktally_home: Path) -> None:
    worktally_home.mkdir(parents=True, exist_ok=True)
    (worktally_home / "config.toml").write_text("[report]\nepsilon = 0\ncohort = 'web'\n")
    assert "must be > 0" in refused("get", "report.epsilon")
    assert run("set", "report.epsilon", "3").stdout.strip() == "report.epsilon: 0 -> 3.0"
    assert config.load().report == config.ReportConfig(cohort="web", epsilon=3.0)


def test_unset_removes_a_key_this_version_does_not_know(worktally_home: Path) -> None:
    worktally_home.mkdir(parents=True, exist_ok=True)
    (worktally_home / "config.toml").write_text("[report]\nretired = 1\ncohort = 'web'\n")
    assert run("unset", "report.retired").stdout.strip() == "report.retired: 1 -> removed"
    assert config.load().report.cohort == "web"


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_any_string_survives_the_file(text: str) -> None:
    assert tomllib.loads(f"cohort = {config.toml_value(text)}") == {"cohort": text}
