"""worktally's attribution written as git-ai notes, read back by a fresh install.

The round trip is exact for what git-ai's three states can say: `ai` lines come back as
`ai` with their tool and kind, `human` as `human`, `unknown` as `unknown`. The other three
classes come back as git-ai would report them: `ai_modified` as `human` (the spec gives a
human-edited AI line to the human, section 2.1) and `bulk` and `external` as `unknown`
(untracked: nobody was seen typing them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from attribution_support import KEYER, numbered, open_db, record
from click.testing import CliRunner
from git_ai_support import add_note, read_note, session_key, session_record, sha256_hex

from worktally.client.agent import pipeline
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import TokenUsage
from worktally.client.capture.spool import Spool
from worktally.client.cli import cli
from worktally.client.config import Config
from worktally.client.interop import git_ai_format
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store.record_writers import write_token_usage

CFG = Config()
OTHER_KEYER = LineKeyer(b"z" * 32)
IDENTITY = "Dev <dev@example.com>"


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def _text(*blocks: list[str]) -> str:
    return "\n".join(line for block in blocks for line in block) + "\n"


def _sync(con, keyer, registry) -> pipeline.SyncCounts:
    return pipeline.run_sync(con, keyer, registry, CFG, time.time(), spool=Spool())


def _classes(con, sha: str) -> tuple[int, ...]:
    row = con.execute("SELECT ai_lines, ai_modified_lines, human_lines, bulk_lines, "
                      "external_lines, unknown_lines FROM commits WHERE sha = ?",
                      [sha]).fetchone()
    assert row is not None
    return tuple(row)


class Work:
    """One commit with a line of every class, recorded by install A (KEYER)."""

    def __init__(self, tmp_path: Path, git_repo) -> None:
        self.repo = git_repo()
        self.con = open_db(tmp_path)
        con = self.con
        self.claude, self.typed, self.modified = (
            numbered("claude", 5), numbered("typed", 2), numbered("modified", 1))
        self.bulk, self.external, self.unseen = (
            numbered("bulk", 2), numbered("external", 1), numbered("unseen", 2))
        self.codex, self.y_typed = numbered("codex", 2), numbered("ytyped", 2)
        record(con, "ai", self.claude, tool="claude-code", session_id="sess-1")
        write_token_usage(con, [TokenUsage(
            usage_id="u1", session_id="sess-1", tool="claude-code",
            model="claude-sonnet-4-5-20250929", input_tokens=10, output_tokens=5)])
        record(con, "typed", self.typed + self.y_typed)
        record(con, "ai_modified", self.modified, tool="copilot", kind="completion")
        record(con, "bulk", self.bulk)
        record(con, "external", self.external)
        record(con, "ai", self.codex, tool="codex", kind="completion")
        # x.py: 1-3 claude, 4 blank, 5-6 claude, 7 "}", 8-9 typed, 10 ai_modified,
        # 11-12 bulk, 13 external, 14-15 unseen, 16-17 codex completions; y.py: 1-2 typed.
        self.sha = self.repo.commit("work", {
            "x.py": _text(self.claude[:3], [""], self.claude[3:], ["}"], self.typed,
                          self.modified, self.bulk, self.external, self.unseen, self.codex),
            "y.py": _text(self.y_typed)})
        self.registry = RepoRegistry(KEYER, tmp_path / "repos.json")
        self.registry.add(self.repo.root)
        self.registry.set_git_ai_notes(str(self.repo.root), "write")


def test_write_mode_writes_the_spec_s_note_for_each_commit(tmp_path, git_repo):
    work = Work(tmp_path, git_repo)
    counts = _sync(work.con, KEYER, work.registry)
    assert counts.git_ai_notes_written == 1
    assert _classes(work.con, work.sha) == (7, 1, 4, 2, 1, 2)
    text = read_note(work.repo, work.sha)
    assert text is not None
    claude_id = "s_" + sha256_hex(f"claude:{KEYER.label('claude:sess-1')}")[:14]
    codex_conversation = KEYER.label("codex:stream:completion")
    codex_id = "s_" + sha256_hex(f"codex:{codex_conversation}")[:14]
    human = "h_" + sha256_hex(IDENTITY)[:14]
    attestations, meta_text = text.split("\n---\n")
    lines = attestations.splitlines()
    assert lines[0] == "x.py" and lines[4] == "y.py"
    assert [(line.split()[0].split("::")[0], line.split()[1]) for line in lines[1:4]] == [
        (claude_id, "1-6"), (human, "8-10"), (codex_id, "16-17")]
    assert lines[5] == f"  {human} 1-2"
    assert all(line.startswith("  ") and "::t_" in line for line in (lines[1], lines[3]))
    meta = json.loads(meta_text)
    assert meta == {
        "schema_version": "authorship/3.0.0", "base_commit_sha": work.sha, "prompts": {},
        "humans": {human: {"author": IDENTITY}},
        "sessions": {
            claude_id: {"agent_id": {"tool": "claude", "id": KEYER.label("claude:sess-1"),
                                     "model": "claude-sonnet-4-5-20250929"},
                        "custom_attributes": {"worktally.kind": "agent"}},
            codex_id: {"agent_id": {"tool": "codex", "id": codex_conversation,
                                    "model": "unknown"},
                       "custom_attributes": {"worktally.kind": "completion"}}}}
    assert "human_author" not in text
    # Its own note is not read back as new, and a second sync writes nothing.
    again = _sync(work.con, KEYER, work.registry)
    assert (again.git_ai_notes_read, again.git_ai_notes_written) == (0, 0)
    assert read_note(work.repo, work.sha) == text


def test_a_fresh_install_reads_the_notes_back_as_git_ai_would_report_them(tmp_path, git_repo):
    work = Work(tmp_path, git_repo)
    _sync(work.con, KEYER, work.registry)
    other = open_db(tmp_path / "b")
    registry = RepoRegistry(OTHER_KEYER, tmp_path / "b-repos.json")
    registry.add(work.repo.root)
    counts = _sync(other, OTHER_KEYER, registry)
    assert counts.git_ai_notes_read == 1
    # A: ai 7, ai_modified 1, human 4, bulk 2, external 1, unknown 2.
    assert _classes(other, work.sha) == (7, 0, 5, 0, 0, 5)
    ai = {(tool, kind, n) for tool, kind, n in other.execute(
        "SELECT tool, kind, count(*) FROM commit_lines WHERE source = 'ai' GROUP BY ALL")
        .fetchall()}
    assert ai == {("claude-code", "agent", 5), ("codex", "completion", 2)}
    mine = {(tool, kind, n) for tool, kind, n in work.con.execute(
        "SELECT tool, kind, count(*) FROM commit_lines WHERE source = 'ai' GROUP BY ALL")
        .fetchall()}
    assert ai == mine
    models = dict(other.execute("SELECT tool, any_value(model) FROM git_ai_lines "
                                "WHERE source = 'ai' GROUP BY 1").fetchall())
    assert models == {"claude-code": "claude-sonnet-4-5-20250929", "codex": None}


def test_no_note_over_an_existing_one_and_none_for_a_commit_with_nothing_to_attest(
        tmp_path, git_repo):
    work = Work(tmp_path, git_repo)
    theirs = work.repo.commit("theirs", {"z.py": _text(numbered("theirs", 2))})
    git_ai_text = ("z.py\n  " + session_key("cursor", "c", "t") + " 1-2\n---\n" + json.dumps(
        {"schema_version": "authorship/3.0.0", "base_commit_sha": theirs, "prompts": {},
         "sessions": {session_key("cursor", "c", "t").split("::")[0]:
                      session_record("cursor", "c", "gpt-5")}}, indent=2))
    add_note(work.repo, theirs, git_ai_text)
    pasted = numbered("pasted", 3)
    record(work.con, "bulk", pasted)
    nothing = work.repo.commit("paste", {"p.py": _text(pasted)})
    counts = _sync(work.con, KEYER, work.registry)
    assert (counts.git_ai_notes_written, counts.git_ai_notes_read) == (1, 1)
    assert read_note(work.repo, theirs) == git_ai_text.rstrip("\n")
    assert read_note(work.repo, nothing) is None
    statuses = dict(work.con.execute("SELECT sha, status FROM git_ai_notes").fetchall())
    assert statuses == {work.sha: "written", theirs: "read", nothing: "nothing_to_write"}


def test_repos_set_turns_writing_on_and_off_per_repo(tmp_path, git_repo):
    work = Work(tmp_path, git_repo)
    runner = CliRunner()
    assert runner.invoke(cli, ["repos", "add", str(work.repo.root)]).exit_code == 0
    data = json.loads(runner.invoke(cli, ["repos", "set", work.repo.root.as_posix(),
                                          "--git-ai-notes", "write", "--json"]).stdout)
    assert data["git_ai_notes"] == "write"
    missing = runner.invoke(cli, ["repos", "set", str(tmp_path), "--git-ai-notes", "off"])
    assert missing.exit_code == 1 and "not registered" in missing.stderr
    # Through the CLI the edits live in another database, so the commit is all unknown:
    # nothing to attest, and no note.
    synced = json.loads(runner.invoke(cli, ["sync", "--json"]).stdout)
    assert synced["git_ai_notes_written"] == 0
    assert read_note(work.repo, work.sha) is None
    assert git_ai_format.NOTES_REF == "refs/notes/ai"


def test_the_committer_s_name_goes_into_the_note_but_never_into_the_database(tmp_path,
                                                                            git_repo):
    canary = "Zqxcanary Person"
    repo = git_repo()
    repo.git("config", "user.name", canary)
    con = open_db(tmp_path)
    typed = numbered("typed", 2)
    record(con, "typed", typed)
    sha = repo.commit("c", {"t.py": _text(typed)})
    registry = RepoRegistry(KEYER, tmp_path / "repos.json")
    registry.add(repo.root)
    registry.set_git_ai_notes(str(repo.root), "write")
    assert _sync(con, KEYER, registry).git_ai_notes_written == 1
    note = read_note(repo, sha) or ""
    assert f'"author": "{canary} <dev@example.com>"' in note
    columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                          "WHERE data_type = 'VARCHAR' AND table_schema = 'main'").fetchall()
    for table, column in columns:
        for needle in ("zqxcanary", "dev@example.com"):
            hits = con.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" ILIKE ?',
                               [f"%{needle}%"]).fetchone()
            assert hits == (0,), f"{table}.{column} holds {needle}"


def test_a_note_that_appears_between_reading_and_writing_is_read_next(tmp_path, git_repo):
    from worktally.client.interop import git_ai_export, git_ai_import

    work = Work(tmp_path, git_repo)
    work.registry.set_git_ai_notes(str(work.repo.root), "off")
    _sync(work.con, KEYER, work.registry)
    theirs = ("x.py\n  " + session_key("cursor", "c", "t") + " 1-3\n---\n" + json.dumps(
        {"schema_version": "authorship/3.0.0", "base_commit_sha": work.sha, "prompts": {},
         "sessions": {session_key("cursor", "c", "t").split("::")[0]:
                      session_record("cursor", "c", "gpt-5")}}))
    add_note(work.repo, work.sha, theirs)
    repo = work.registry.list()[0]
    assert git_ai_export.export_repo(work.con, KEYER, repo).had_note == 1
    assert read_note(work.repo, work.sha) == theirs
    assert git_ai_import.read_notes(work.con, KEYER, repo, CFG).notes == 1
