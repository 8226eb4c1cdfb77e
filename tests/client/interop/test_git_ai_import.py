"""git-ai notes written by hand into real git repos become worktally's committed-line classes.

The repo's history: two commits whose notes use several sessions and tools (a legacy prompt
among them), overlapping entries, a human key without a record, a path with a space;
another author's commit; a malformed note; and a feature branch rebased onto main, whose
first commit's note was copied to the rewritten commit (as the spec asks of git-ai) and
whose second was not (worktally still matches its lines by content).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from attribution_support import KEYER, numbered, open_db, record
from click.testing import CliRunner
from git_ai_support import (
    add_note,
    human_key,
    legacy_key,
    note_text,
    session_id,
    session_key,
    session_record,
)

from worktally.client.agent import pipeline
from worktally.client.capture.spool import Spool
from worktally.client.cli import cli
from worktally.client.config import Config
from worktally.client.interop import git_ai_import
from worktally.client.repos.registry import RepoRegistry

CFG = Config()
CANARY = "zqxcanary"
IDENTITY = f"Dev {CANARY} <{CANARY}-dev@example.invalid>"
DAY = 86_400


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def _lines(prefix: str, n: int) -> list[str]:
    return numbered(prefix, n)


def _text(*blocks: list[str]) -> str:
    return "\n".join(line for block in blocks for line in block) + "\n"


def _sync(con, registry) -> pipeline.SyncCounts:
    return pipeline.run_sync(con, KEYER, registry, CFG, time.time(), spool=Spool())


def _commit(con, sha: str) -> dict[str, object]:
    cur = con.execute("SELECT * FROM commits WHERE sha = ?", [sha])
    row = cur.fetchone()
    assert row is not None, "commit was not attributed"
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _classes(con, sha: str) -> tuple[int, ...]:
    row = _commit(con, sha)
    return tuple(int(row[k]) for k in ("ai_lines", "ai_modified_lines", "human_lines",
                                       "bulk_lines", "external_lines", "unknown_lines"))


def _by_tool(con, sha: str) -> dict[str, int]:
    rows = con.execute("SELECT tool, count(*) FROM commit_lines WHERE sha = ? AND source = 'ai' "
                       "GROUP BY 1", [sha]).fetchall()
    return dict(rows)


class History:
    """The repo described in the module docstring, with its notes."""

    def __init__(self, git_repo, with_canaries: bool = False) -> None:
        self.repo = repo = git_repo(f"{CANARY}_repo" if with_canaries else "repo")
        now = int(time.time())
        self.claude, self.cursor, self.codex, self.gemini, self.opencode = (
            _lines("claude", 4), _lines("cursor", 2), _lines("codex", 3), _lines("gemini", 2),
            _lines("opencode", 2))
        self.human, self.untracked = _lines("typed", 3), _lines("untracked", 2)
        claude_id = session_id("claude", "conv-claude")
        sessions = {
            claude_id: session_record("claude", "conv-claude", "claude-sonnet-4-5",
                                      human_author=f"{CANARY}@example.invalid",
                                      team=f"{CANARY}-team"),
            session_id("cursor", "conv-cursor"): session_record("cursor", "conv-cursor",
                                                                "gpt-5"),
        }
        prompts = {legacy_key("codex", "old-run"): {
            "agent_id": {"tool": "codex", "id": "old-run", "model": "gpt-4.1"},
            "human_author": IDENTITY, "total_additions": 3, "total_deletions": 0,
            "accepted_lines": 3, "overriden_lines": 0}}
        humans = {human_key(IDENTITY): IDENTITY}
        app = f"{CANARY}_src/app.py" if with_canaries else "src/app.py"
        self.app = app
        # c1: app.py lines 1-4 claude, 5 blank, 6-8 human, 9-10 untracked, 11-12 cursor;
        # lib/util.py 1-3 a legacy codex prompt.
        self.c1 = repo.commit("c1", {
            app: _text(self.claude, [""], self.human, self.untracked, self.cursor),
            "lib/util.py": _text(self.codex)}, when=now - 5 * DAY)
        add_note(repo, self.c1, note_text(
            [(app, [(session_key("claude", "conv-claude", "1"), "1-4"),
                    (human_key(IDENTITY), "6-8"),
                    (session_key("cursor", "conv-cursor", "2"), "11-12")]),
             ("lib/util.py", [(legacy_key("codex", "old-run"), "1-3")])],
            base=self.c1, sessions=sessions, humans=humans, prompts=prompts))
        # c2 appends app.py 13-16: a human entry, then a later claude entry over 14-15 (the
        # later entry wins); "docs/read me.md": 1-2 gemini, 3 a human key with no record.
        self.more = _lines("more", 4)
        self.docs = [*self.gemini, "orphan_line = nobody_knows(3)"]
        self.c2 = repo.commit("c2", {
            app: _text(self.claude, [""], self.human, self.untracked, self.cursor, self.more),
            "docs/read me.md": _text(self.docs)}, when=now - 4 * DAY)
        add_note(repo, self.c2, note_text(
            [(app, [(human_key(IDENTITY), "13-16"),
                    (session_key("claude", "conv-claude", "3"), "14-15")]),
             ("docs/read me.md", [(session_key("gemini", "g-1", "4"), "1-2"),
                                  (human_key("Ghost <ghost@example.invalid>"), "3")])],
            base=self.c2, humans=humans, sessions={
                claude_id: sessions[claude_id],
                session_id("gemini", "g-1"): session_record("gemini", "g-1", "gemini-2.5-pro")}))
        # c3 is someone else's; c4's note is not an authorship log.
        self.c3 = repo.commit("c3", {"other.py": _text(_lines("other", 2))},
                              email="someone@example.com", when=now - 3 * DAY)
        add_note(repo, self.c3, note_text(
            [("other.py", [(session_key("claude", "x", "5"), "1-2")])], base=self.c3,
            sessions={session_id("claude", "x"): session_record("claude", "x", "m")}))
        self.c4 = repo.commit("c4", {"bad.py": _text(_lines("bad", 2))}, when=now - 3 * DAY)
        add_note(repo, self.c4, "bad.py\n  h_0123 1-2\nno divider here\n")

    def rebase(self) -> None:
        """feature (f1 claude via custom kind, f2 opencode) rebased onto a new main commit."""
        repo, now = self.repo, int(time.time())
        repo.git("checkout", "-q", "-b", "feature")
        self.feat_claude = _lines("feat_claude", 3)
        self.f1 = repo.commit("f1", {"feat.py": _text(self.feat_claude)}, when=now - 2 * DAY)
        f1_sessions = {session_id("claude", "conv-feat"): session_record(
            "claude", "conv-feat", "claude-opus-4-1", **{"worktally.kind": "chat"})}
        f1_files = [("feat.py", [(session_key("claude", "conv-feat", "6"), "1-3")])]
        add_note(repo, self.f1, note_text(f1_files, base=self.f1, sessions=f1_sessions))
        self.f2 = repo.commit("f2", {"feat.py": _text(self.feat_claude, self.opencode)},
                              when=now - 2 * DAY)
        add_note(repo, self.f2, note_text(
            [("feat.py", [(session_key("opencode", "oc-1", "7"), "4-5")])], base=self.f2,
            sessions={session_id("opencode", "oc-1"): session_record("opencode", "oc-1",
                                                                     "qwen3-coder")}))
        repo.git("checkout", "-q", "main")
        self.m = repo.commit("m", {"main_only.py": _text(_lines("mainline", 2))},
                             when=now - DAY)
        repo.git("checkout", "-q", "feature")
        repo.git("rebase", "-q", "main")
        self.f2_new = repo.head()
        self.f1_new = repo.git("rev-parse", "HEAD~1")
        assert {self.f1_new, self.f2_new}.isdisjoint({self.f1, self.f2})
        # git-ai copies a rebased commit's note (spec 2.1); this one copies only f1's.
        add_note(repo, self.f1_new, note_text(f1_files, base=self.f1_new,
                                              sessions=f1_sessions))


def _registry(tmp_path: Path, repo) -> RepoRegistry:
    registry = RepoRegistry(KEYER, tmp_path / "repos.json")
    registry.add(repo.root)
    return registry


def test_notes_give_each_commit_its_ai_human_and_untracked_lines(tmp_path, git_repo,
                                                                 monkeypatch):
    # Two notes per chunk: the five notes are read and stored in three rounds.
    monkeypatch.setattr(git_ai_import, "NOTES_PER_CHUNK", 2)
    history = History(git_repo)
    con = open_db(tmp_path)
    registry = _registry(tmp_path, history.repo)
    history.rebase()
    counts = _sync(con, registry)
    assert counts.git_ai_notes_read == 5  # c1, c2, f1, f2, f1'; c3 not yours, c4 malformed
    #          (ai, ai_modified, human, bulk, external, unknown)
    assert _classes(con, history.c1) == (9, 0, 3, 0, 0, 2)
    assert _by_tool(con, history.c1) == {"claude-code": 4, "cursor": 2, "codex": 3}
    assert _classes(con, history.c2) == (4, 0, 2, 0, 0, 1)
    assert _by_tool(con, history.c2) == {"claude-code": 2, "gemini-cli": 2}
    assert _classes(con, history.c4) == (0, 0, 0, 0, 0, 2)
    assert _classes(con, history.m) == (0, 0, 0, 0, 0, 2)
    # f1' has its copied note; f2' has none, but f2's note names the same lines.
    assert _classes(con, history.f1_new) == (3, 0, 0, 0, 0, 0)
    assert _classes(con, history.f2_new) == (2, 0, 0, 0, 0, 0)
    assert _by_tool(con, history.f2_new) == {"opencode": 2}
    kinds = con.execute("SELECT DISTINCT sha = ?, tool, kind FROM commit_lines WHERE source = "
                        "'ai' AND sha IN (?, ?) ORDER BY ALL",
                        [history.f1_new, history.f1_new, history.c1]).fetchall()
    # git-ai does not say an AI line's kind: `agent`, unless worktally's attribute names it.
    assert kinds == [(False, "claude-code", "agent"), (False, "codex", "agent"),
                     (False, "cursor", "agent"), (True, "claude-code", "chat")]
    sessions = dict(con.execute("SELECT tool, any_value(session_id) FROM commit_lines WHERE "
                                "sha = ? AND source = 'ai' GROUP BY 1", [history.c1]).fetchall())
    assert sessions == {"claude-code": "conv-claude", "cursor": "conv-cursor",
                        "codex": "old-run"}
    assert con.execute("SELECT count(*) FROM commits WHERE sha = ?", [history.c3]).fetchone() \
        == (0,)
    statuses = dict(con.execute("SELECT sha, status FROM git_ai_notes").fetchall())
    assert statuses[history.c3] == "not_yours" and statuses[history.c4] == "malformed"
    # Nothing new: the next sync reads no note and changes no line.
    again = _sync(con, registry)
    assert again.git_ai_notes_read == 0
    assert _classes(con, history.c1) == (9, 0, 3, 0, 0, 2)
    assert git_ai_import.apply_notes(con, registry.list()[0].repo_id) == (0, 0)


def test_notes_read_after_commits_were_attributed_change_them_and_the_sums_hold(
        tmp_path, git_repo):
    history = History(git_repo)
    con = open_db(tmp_path)
    registry = _registry(tmp_path, history.repo)
    repo = registry.set_git_ai_notes(str(history.repo.root), "off")
    assert repo is not None and repo.git_ai_notes == "off"
    _sync(con, registry)
    assert _classes(con, history.c1) == (0, 0, 0, 0, 0, 14)
    counts = git_ai_import.import_repo(con, KEYER, registry.list()[0], CFG)
    assert (counts.notes, counts.not_yours, counts.malformed) == (2, 1, 1)
    assert (counts.ai_lines, counts.human_lines) == (13, 5)
    assert (counts.commit_lines_changed, counts.commits_changed) == (18, 2)
    assert _classes(con, history.c1) == (9, 0, 3, 0, 0, 2)
    for row in con.execute("SELECT lines_added, ai_lines + ai_modified_lines + human_lines + "
                           "bulk_lines + external_lines + unknown_lines FROM commits").fetchall():
        assert row[0] == row[1]


def test_a_note_git_ai_rewrites_is_read_again(tmp_path, git_repo):
    history = History(git_repo)
    con = open_db(tmp_path)
    registry = _registry(tmp_path, history.repo)
    _sync(con, registry)
    assert _classes(con, history.c1) == (9, 0, 3, 0, 0, 2)
    # The untracked lines 9-10 become the cursor session's.
    add_note(history.repo, history.c1, note_text(
        [(history.app, [(session_key("cursor", "conv-cursor", "9"), "9-12")])], base=history.c1,
        sessions={session_id("cursor", "conv-cursor"): session_record(
            "cursor", "conv-cursor", "gpt-5")}))
    assert _sync(con, registry).git_ai_notes_read == 1
    assert _classes(con, history.c1) == (11, 0, 3, 0, 0, 0)
    assert con.execute("SELECT count(*) FROM git_ai_lines WHERE sha = ?",
                       [history.c1]).fetchone() == (4,)


def test_worktally_s_own_observations_rank_as_edits_do(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    typed_then_ai, ai_then_human, bulk_then_human, unseen_human = (
        _lines("t_ai", 2), _lines("ai_h", 2), _lines("bulk_h", 2), _lines("none_h", 2))
    record(con, "typed", typed_then_ai)
    record(con, "ai", ai_then_human, tool="codex", session_id="codex-s")
    record(con, "bulk", bulk_then_human)
    sha = repo.commit("c", {"x.py": _text(typed_then_ai, ai_then_human, bulk_then_human,
                                          unseen_human)})
    add_note(repo, sha, note_text(
        [("x.py", [(session_key("claude", "c", "1"), "1-2"), (human_key(IDENTITY), "3-8")])],
        base=sha, sessions={session_id("claude", "c"): session_record("claude", "c", "m")},
        humans={human_key(IDENTITY): IDENTITY}))
    _sync(con, _registry(tmp_path, repo))
    # A note's AI beats a typed edit; its human line never beats an AI or bulk edit.
    assert _classes(con, sha) == (4, 0, 2, 2, 0, 0)
    assert _by_tool(con, sha) == {"claude-code": 2, "codex": 2}


def test_import_command_reads_one_repo_and_reports_per_repo(tmp_path, git_repo):
    history = History(git_repo)
    runner = CliRunner()
    added = runner.invoke(cli, ["repos", "add", str(history.repo.root), "--json"])
    assert added.exit_code == 0, added.output
    off = runner.invoke(cli, ["repos", "set", str(history.repo.root), "--git-ai-notes", "off",
                              "--json"])
    assert json.loads(off.stdout)["git_ai_notes"] == "off"
    synced = runner.invoke(cli, ["sync", "--json"])
    assert json.loads(synced.stdout)["git_ai_notes_read"] == 0
    result = runner.invoke(cli, ["import", "git-ai", str(history.repo.root / "src"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["notes"], data["ai_lines"], data["human_lines"], data["commits_changed"]) == (
        2, 13, 5, 2)
    assert [r["path"] for r in data["repos"]] == [str(history.repo.root.resolve())]
    commits = {c["sha"]: c for c in json.loads(
        runner.invoke(cli, ["commits", "--json"]).stdout)}
    assert commits[history.c1]["ai_by_tool"] == {"claude-code": 4, "codex": 3, "cursor": 2}
    assert commits[history.c1]["unknown_lines"] == 2
    listed = json.loads(runner.invoke(cli, ["repos", "list", "--json"]).stdout)
    assert listed[0]["git_ai_notes"] == "off"
    # With the mode still off, a later commit takes the imported notes' lines at its sync.
    later = history.repo.commit("again", {"copy.py": _text(history.claude)})
    assert json.loads(runner.invoke(cli, ["sync", "--json"]).stdout)["git_ai_notes_read"] == 0
    commits = {c["sha"]: c for c in json.loads(
        runner.invoke(cli, ["commits", "--json"]).stdout)}
    assert commits[later]["ai_by_tool"] == {"claude-code": 4}
    text = runner.invoke(cli, ["import", "git-ai"])
    assert text.exit_code == 0 and "notes" in text.stdout
    elsewhere = tmp_path / "elsewhere"
    git_repo("elsewhere")
    refused = runner.invoke(cli, ["import", "git-ai", str(elsewhere)])
    assert refused.exit_code == 1 and "not in a registered repo" in refused.stderr
    bad = runner.invoke(cli, ["repos", "set", str(history.repo.root), "--git-ai-notes", "on"])
    assert bad.exit_code == 2


def test_no_name_email_path_or_text_from_a_note_is_stored_or_logged(tmp_path, git_repo,
                                                                    caplog):
    history = History(git_repo, with_canaries=True)
    con = open_db(tmp_path)
    registry = _registry(tmp_path, history.repo)
    # A conversation id shaped like an email is kept only as a keyed label.
    sha = history.repo.commit("c5", {f"{CANARY}_more.py": _text(_lines(CANARY, 2))})
    add_note(history.repo, sha, note_text(
        [(f"{CANARY}_more.py", [(session_key("claude", f"{CANARY}@example.invalid", "8"),
                                 "1-2")])],
        base=sha, sessions={session_id("claude", f"{CANARY}@example.invalid"): session_record(
            "claude", f"{CANARY}@example.invalid", "claude-x", human_author=IDENTITY)}))
    with caplog.at_level(logging.DEBUG):
        counts = _sync(con, registry)
    assert counts.git_ai_notes_read == 3 and _classes(con, history.c1)[0] == 9
    assert _classes(con, sha) == (2, 0, 0, 0, 0, 0)
    columns = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'VARCHAR' AND table_schema = 'main'").fetchall()
    assert ("git_ai_lines", "session_id") in columns
    for table, column in columns:
        hits = con.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" ILIKE ?',
                           [f"%{CANARY}%"]).fetchone()
        assert hits == (0,), f"{table}.{column} holds a canary"
    assert not [r for r in caplog.records if CANARY in r.getMessage()]


def test_forget_drops_note_lines_but_keeps_the_read_markers(tmp_path, git_repo):
    from worktally.client.store import queries

    history = History(git_repo)
    con = open_db(tmp_path)
    _sync(con, _registry(tmp_path, history.repo))
    deleted = queries.forget(con, None)
    assert deleted["git_ai_lines"] == 18
    assert con.execute("SELECT count(*) FROM git_ai_notes").fetchone()[0] == 4
