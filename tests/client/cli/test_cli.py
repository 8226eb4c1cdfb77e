"""The capture CLI: `--json` shapes, a fresh machine, pause, repos, commits, me, forget, sync."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from worktally.client import paths
from worktally.client.agent.lock import AgentLock
from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.records import EditEvent, RepoRegistration
from worktally.client.capture.spool import Spool
from worktally.client.cli import cli
from worktally.client.store import db

SOURCES = {"typed", "ai", "bulk", "external"}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    target = tmp_path / "home"
    monkeypatch.setenv("WORKTALLY_HOME", str(target))
    return target


def run(*args: str, input: str | None = None, ok: bool = True):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def run_json(*args: str):
    return json.loads(run(*args, "--json").stdout)


def plain_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


def insert_commit(sha: str, repo_id: str, when: dt.datetime, ai_tools: dict[str, int],
                  human: int) -> None:
    """Rows shaped like attribution's output, written under the lock as the agent would."""
    ai = sum(ai_tools.values())
    with AgentLock():
        con = db.connect()
        con.execute(
            "INSERT INTO commits VALUES (?, ?, ?, false, ?, ?, 0, 0, ?, true, now(), 0, 0)",
            [repo_id, sha, when, ai + human, ai, human],
        )
        for n_line, (tool, n) in enumerate(
            (t, n) for t, count in ai_tools.items() for n in range(count)
        ):
            con.execute("INSERT INTO commit_lines VALUES (?, ?, ?, 'ai', ?, 'completion', NULL)",
                        [repo_id, sha, n_line * 1000 + n, tool])
        con.close()


def test_status_on_a_fresh_machine(home):
    assert not home.exists()
    data = run_json("status")
    assert data["agent"] == {"running": False, "pid": None, "last_sync": None}
    assert data["paused"] is False
    assert data["repos"] == 0
    assert data["today"] == dict.fromkeys(SOURCES, 0)
    assert data["spool_pending"] == 0
    human = run("status").stdout
    assert "not running" in human and "paused:  no" in human


def test_state_files_are_private(home):
    run("status")
    Spool().write([EditEvent(source="typed", keys=(1,), file_id="f", line_count=1)])
    run("sync")
    run("pause")
    for path in [home, *home.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{path.relative_to(home.parent)} is {oct(mode)}"
    names = {p.name for p in home.iterdir()}
    assert {"worktally.duckdb", "line-key.secret", "spool", "agent.lock", "paused"} <= names


def test_pause_and_resume_toggle_the_flag(home):
    assert run_json("pause") == {"paused": True}
    assert paths.paused_flag().exists()
    assert run_json("status")["paused"] is True
    assert run_json("resume") == {"paused": False}
    assert not paths.paused_flag().exists()
    assert run_json("status")["paused"] is False


def test_repos_add_list_remove(home, tmp_path):
    repo = plain_repo(tmp_path / "work" / "proj")
    (repo / "sub").mkdir()
    added = run_json("repos", "add", str(repo / "sub"))
    assert added["path"] == str(repo.resolve())
    assert set(added) == {"repo_id", "path", "added_at"}
    listed = run_json("repos", "list")
    assert [r["repo_id"] for r in listed] == [added["repo_id"]]
    assert run_json("status")["repos"] == 1
    assert run_json("repos", "remove", str(repo))["repo_id"] == added["repo_id"]
    assert run_json("repos", "list") == []
    missing = run("repos", "remove", str(repo), ok=False)
    assert missing.exit_code == 1 and "not registered" in missing.stderr


def test_repos_add_refuses_a_folder_outside_git(home, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run("repos", "add", str(plain), ok=False)
    assert result.exit_code == 1
    assert "not inside a git work tree" in result.stderr


def test_sync_drains_edits_and_registrations(home, tmp_path):
    repo = plain_repo(tmp_path / "reg")
    Spool().write([
        EditEvent(source="ai", keys=(11, 12), file_id="f", line_count=2, tool="copilot",
                  kind="completion"),
        EditEvent(source="typed", keys=(13,), file_id="f", line_count=1),
        RepoRegistration(path=str(repo)),
    ])
    first = run_json("sync")
    assert first["via"] == "local"
    assert (first["batches"], first["records"], first["registrations"]) == (1, 3, 1)
    assert first["repos"] == 1
    assert {"commits", "external_edits", "survival_checked", "imported", "quarantined"} <= set(
        first)
    status = run_json("status")
    assert status["today"] == {"typed": 1, "ai": 2, "bulk": 0, "external": 0}
    assert status["repos"] == 1
    assert run_json("sync")["batches"] == 0


def test_commits_json_shape_and_repo_filter(home, tmp_path):
    one = plain_repo(tmp_path / "one")
    two = plain_repo(tmp_path / "two")
    id_one = run_json("repos", "add", str(one))["repo_id"]
    id_two = run_json("repos", "add", str(two))["repo_id"]
    now = dt.datetime.now(dt.UTC)
    insert_commit("a" * 40, id_one, now - dt.timedelta(hours=2), {"copilot": 2, "codex": 1}, 4)
    insert_commit("b" * 40, id_two, now - dt.timedelta(hours=1), {}, 5)
    rows = run_json("commits")
    assert [r["sha"] for r in rows] == ["b" * 40, "a" * 40]
    expected_keys = {"sha", "repo", "repo_id", "lines_added", "ai_lines", "human_lines",
                     "bulk_lines", "external_lines", "ai_by_tool", "committed_at", "is_merge",
                     "ai_modified_lines", "unknown_lines"}
    assert all(set(r) == expected_keys for r in rows)
    first = rows[1]
    assert first["repo"] == str(one.resolve())
    assert first["ai_by_tool"] == {"copilot": 2, "codex": 1}
    assert (first["lines_added"], first["ai_lines"], first["human_lines"]) == (7, 3, 4)
    assert dt.datetime.fromisoformat(first["committed_at"]) < now
    only_two = run_json("commits", "--repo", str(two))
    assert [r["sha"] for r in only_two] == ["b" * 40]
    assert "bbbbbbbbbb" in run("commits").stdout


def test_me_breaks_down_the_week(home, tmp_path):
    repo = plain_repo(tmp_path / "mine")
    repo_id = run_json("repos", "add", str(repo))["repo_id"]
    now = dt.datetime.now().astimezone()
    Spool().write([EditEvent(source="bulk", keys=(1, 2, 3), file_id="f", line_count=3)])
    run("sync")
    insert_commit("c" * 40, repo_id, now, {"claude-code": 3}, 1)
    year, week, _ = now.isocalendar()
    data = run_json("me", "--week", f"{year}-W{week:02d}")
    assert data["edit_lines"]["bulk"] == 3
    assert data["commits"] == 1
    assert data["committed_lines"]["ai"] == 3
    assert data["ai_committed_by_tool"] == {"claude-code": 3}
    assert data["ai_committed_by_kind"] == {"completion": 3}
    assert data["survival"] == {"ai_lines_checked": 0, "ai_lines_surviving": 0, "rate": None}
    other = run_json("me", "--week", "2001-W05")
    assert other["commits"] == 0 and other["edit_lines"]["bulk"] == 0
    bad = run("me", "--week", "last week", ok=False)
    assert bad.exit_code == 1 and "YYYY-Www" in bad.stderr


def test_forget_asks_first_and_deletes(home, tmp_path):
    old = EditEvent(source="typed", keys=(1,), file_id="f", line_count=1,
                    ts=dt.datetime(2020, 1, 5, tzinfo=dt.UTC).timestamp())
    new = EditEvent(source="typed", keys=(2,), file_id="f", line_count=1)
    Spool().write([old, new])
    run("sync")
    refused = run("forget", "--all", input="n\n", ok=False)
    assert refused.exit_code == 1
    assert run_json("status")["edits_total"] == 2
    before = run_json("forget", "--before", "2021-01-01", "--yes")
    assert before["deleted"]["edits"] == 1 and before["deleted"]["edit_lines"] == 1
    assert run_json("status")["edits_total"] == 1
    with AgentLock():
        con = db.connect()
        con.execute("INSERT INTO otlp_counts VALUES ('c1', 'claude-code', 's1', 'commits', 2, "
                    "now(), now(), false)")
        con.close()
    everything = run_json("forget", "--all", "--yes")
    assert everything["deleted"]["edits"] == 1
    assert everything["deleted"]["otlp_counts"] == 1
    assert "report_ledger" not in everything["deleted"]
    assert run_json("status")["edits_total"] == 0
    usage = run("forget", "--yes", ok=False)
    assert usage.exit_code == 2


def test_forgotten_commits_are_not_attributed_again(home, tmp_path):
    repo = plain_repo(tmp_path / "f")
    repo_id = run_json("repos", "add", str(repo))["repo_id"]
    insert_commit("d" * 40, repo_id, dt.datetime.now(dt.UTC), {"copilot": 1}, 0)
    run_json("forget", "--all", "--yes")
    assert run_json("commits") == []
    with AgentLock():
        con = db.connect()
        skipped = con.execute("SELECT sha FROM skipped_commits").fetchall()
        con.close()
    assert skipped == [("d" * 40,)]


def test_commits_from_real_attribution(home, git_repo):
    repo = git_repo("attributed")
    repo.commit("base", {"README.md": "# project\n"})
    run_json("repos", "add", str(repo.root))
    keyer = default_keyer()
    ai_lines = ["def ai_written_function(value):", "    return compute_result(value) * 2"]
    Spool().write([EditEvent(
        source="ai", keys=tuple(keyer.keys(ai_lines)), file_id=keyer.label("mod.py"),
        repo_id=keyer.label(str(repo.root.resolve())), line_count=2, tool="copilot",
        kind="completion", ts=time.time() - 60,
    )])
    # The person typed one line while observed; the other line nothing saw being written.
    Spool().write([EditEvent(
        source="typed", keys=tuple(keyer.keys(["HUMAN_CONSTANT = 41"])),
        file_id=keyer.label("mod.py"), repo_id=keyer.label(str(repo.root.resolve())),
        line_count=1, ts=time.time() - 30,
    )])
    sha = repo.commit("add mod", {"mod.py": "\n".join(
        [*ai_lines, "HUMAN_CONSTANT = 41", "UNOBSERVED_CONSTANT = 42"]) + "\n"})
    synced = run_json("sync")
    assert synced["commits"] >= 1
    rows = {r["sha"]: r for r in run_json("commits")}
    row = rows[sha]
    assert row["repo"] == str(repo.root.resolve())
    assert (row["ai_lines"], row["human_lines"]) == (2, 1)
    assert (row["unknown_lines"], row["ai_modified_lines"], row["lines_added"]) == (1, 0, 4)
    assert row["ai_by_tool"] == {"copilot": 2}
    assert row["is_merge"] is False


def test_sync_removes_stale_half_written_batches_only(home):
    spool = Spool()
    stale = spool.tmp / "dead-producer.json"
    fresh = spool.tmp / "live-producer.json"
    stale.write_bytes(b'{"version": 1')
    fresh.write_bytes(b'{"version": 1')
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    run("sync")
    assert not stale.exists()
    assert fresh.exists()
