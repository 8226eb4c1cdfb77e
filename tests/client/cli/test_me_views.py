"""`worktally me` over any range, day by day, by repo (local names), tool and model, and
`worktally commits --since --limit`; unpriced models never show as $0."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from worktally.client.agent.lock import AgentLock
from worktally.client.cli import cli
from worktally.client.store import db

SONNET = "claude-sonnet-4-20250514"
MYSTERY = "mystery-model-9"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "home"
    monkeypatch.setenv("WORKTALLY_HOME", str(target))
    return target


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


def _commit(con: Any, repo_id: str, sha: str, when: dt.datetime, ai: int = 0, modified: int = 0,
            human: int = 0, bulk: int = 0, external: int = 0, unknown: int = 0) -> None:
    added = ai + modified + human + bulk + external + unknown
    con.execute(
        "INSERT INTO commits (repo_id, sha, committed_at, is_merge, lines_added, ai_lines, "
        "bulk_lines, external_lines, human_lines, reachable, processed_at, ai_modified_lines, "
        "unknown_lines) VALUES (?, ?, ?, false, ?, ?, ?, ?, ?, true, now(), ?, ?)",
        [repo_id, sha, when, added, ai, bulk, external, human, modified, unknown],
    )
    for n in range(ai):
        con.execute("INSERT INTO commit_lines VALUES (?, ?, ?, 'ai', 'copilot', 'completion', "
                    "NULL)", [repo_id, sha, n])


def _usage(con: Any, usage_id: str, session: str, model: str, when: dt.datetime,
           output: int) -> None:
    con.execute(
        "INSERT INTO token_usage (usage_id, session_id, tool, model, ts, input_tokens, "
        "output_tokens, cache_creation_tokens, cache_read_tokens, is_sidechain, origin) "
        "VALUES (?, ?, 'claude-code', ?, ?, 1000, ?, 0, 0, false, 'transcript')",
        [usage_id, session, model, when, output],
    )


@pytest.fixture
def world(home: Path, git_repo: Any) -> dict[str, Any]:
    """Yesterday and today (local days) in one registered repo, plus AI use of two models."""
    repo = git_repo("invoice-service")
    repo_id = run_json("repos", "add", str(repo.root))["repo_id"]
    today = dt.datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - dt.timedelta(days=1)
    with AgentLock():
        con = db.connect()
        _commit(con, repo_id, "a" * 40, yesterday, ai=3, human=1, unknown=4)
        _commit(con, repo_id, "b" * 40, today, ai=1, modified=2, bulk=1, human=4)
        _commit(con, repo_id, "c" * 40, today - dt.timedelta(days=9), unknown=50)
        con.execute(
            "INSERT INTO ai_sessions VALUES ('s1', 'claude-code', 'agent', ?, ?, ?, true)",
            [repo_id, yesterday, yesterday + dt.timedelta(minutes=5)])
        _usage(con, "u1", "s1", SONNET, yesterday, 2000)
        _usage(con, "u2", "s1", MYSTERY, today, 500)
        con.close()
    return {"repo": repo.root.resolve(), "repo_id": repo_id, "today": today,
            "yesterday": yesterday}


def test_me_over_a_range_day_by_day(world: dict[str, Any]) -> None:
    first = world["yesterday"].date().isoformat()
    last = world["today"].date().isoformat()
    data = run_json("me", "--since", first, "--until", last, "--daily")
    assert data["week"] is None
    assert data["commits"] == 2
    lines = data["committed_lines"]
    assert {k: lines[k] for k in ("ai", "ai_modified", "human", "bulk", "unknown", "observed")} \
        == {"ai": 4, "ai_modified": 2, "human": 5, "bulk": 1, "unknown": 4, "observed": 12}
    assert lines["added"] == 16
    # The share is over observed lines only: 4 AI lines of 12 observed, not of 16 added.
    assert data["ai_share_pm"] == 333
    assert data["mostly_unknown"] is False
    days = {d["date"]: d for d in data["days"]}
    assert list(days) == [first, last]
    assert days[first]["committed_lines"]["unknown"] == 4
    assert days[first]["committed_lines"]["ai_share_pm"] == 750
    assert days[last]["committed_lines"]["ai_modified"] == 2
    assert days[first]["usage"]["tokens"] == 3000
    assert days[last]["usage"] == {
        "tokens": 1500, "input_tokens": 1000, "output_tokens": 500,
        "cache_creation_tokens": 0, "cache_read_tokens": 0, "cost_usd": None,
        "unpriced_tokens": 1500}


def test_me_by_model_tool_and_repo(world: dict[str, Any]) -> None:
    data = run_json("me", "--since", world["yesterday"].date().isoformat())
    assert data["days"] is None
    models = data["by_model"]
    assert models[MYSTERY]["priced"] is False
    assert models[MYSTERY]["usage"]["cost_usd"] is None  # unpriced, never $0
    assert models[SONNET]["priced"] is True and models[SONNET]["usage"]["cost_usd"] > 0
    tool = data["by_tool"]["claude-code"]
    assert (tool["sessions"], tool["usage"]["tokens"]) == (1, 4500)
    assert tool["usage"]["unpriced_tokens"] == 1500 and tool["usage"]["cost_usd"] > 0
    assert data["by_tool"]["copilot"]["ai_lines"] == 4
    (repo,) = data["by_repo"]
    assert repo["repo_id"] == world["repo_id"]
    assert repo["repo"] == str(world["repo"])
    assert repo["committed_lines"]["ai"] == 4 and repo["usage"]["tokens"] == 4500
    assert data["ai_usage"]["unpriced_models"] == [MYSTERY]

    text = run("me", "--since", world["yesterday"].date().isoformat()).stdout
    assert "invoice-service" in text
    mystery_row = next(line for line in text.splitlines() if MYSTERY in line)
    assert "unpriced" in mystery_row and "$0" not in mystery_row


def test_a_period_of_unknown_lines_has_no_share(world: dict[str, Any]) -> None:
    day = (world["today"] - dt.timedelta(days=9)).date().isoformat()
    data = run_json("me", "--since", day, "--until", day)
    assert data["committed_lines"]["unknown"] == 50
    assert data["ai_share_pm"] is None
    assert data["mostly_unknown"] is True
    text = " ".join(run("me", "--since", day, "--until", day).stdout.split())
    assert "would not be reported" in text


def test_me_range_options_are_checked(home: Path) -> None:
    both = run("me", "--week", "2026-W05", "--since", "2026-02-01", ok=False)
    assert both.exit_code == 2 and "not both" in both.output
    until_only = run("me", "--until", "2026-02-01", ok=False)
    assert until_only.exit_code == 2 and "--since" in until_only.output
    backwards = run("me", "--since", "2026-02-05", "--until", "2026-02-01", ok=False)
    assert backwards.exit_code == 1 and "before --since" in backwards.stderr
    week = run_json("me", "--week", "2026-W05")
    assert week["week"] == "2026-W05" and week["days"] is None


def test_commits_since_and_limit(world: dict[str, Any]) -> None:
    everything = run_json("commits")
    assert [c["sha"][0] for c in everything] == ["b", "a", "c"]
    since = run_json("commits", "--since", world["yesterday"].date().isoformat())
    assert [c["sha"][0] for c in since] == ["b", "a"]
    newest = run_json("commits", "--limit", "1")
    assert [c["sha"][0] for c in newest] == ["b"]
    assert newest[0]["ai_modified_lines"] == 2 and newest[0]["unknown_lines"] == 0
    assert run("commits", "--limit", "0", ok=False).exit_code == 2
