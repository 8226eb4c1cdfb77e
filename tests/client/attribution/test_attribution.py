"""Attribution against real git repos and a real DuckDB file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from attribution_support import KEYER, commit_row, numbered, open_db, record, repo_for

from worktally.client.attribution.commits import ai_lines_by_tool, attribute_new_commits
from worktally.client.config import Config

CFG = Config()


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def test_sources_attribute_as_human_ai_and_bulk(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    ai, bulk, typed = numbered("ai", 5), numbered("bulk", 3), numbered("typed", 2)
    record(con, "ai", ai, tool="claude-code", session_id="s1")
    record(con, "bulk", bulk)
    record(con, "typed", typed)
    sha = repo.commit(files={"a.py": "\n".join(ai + bulk + typed + ["}", "x"]) + "\n"})
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 1
    row = commit_row(con, sha)
    # The two trivial lines ("}", "x") are left out of every count.
    assert (row["lines_added"], row["ai_lines"], row["bulk_lines"], row["human_lines"]) == (
        10, 5, 3, 2)
    sessions = con.execute(
        "SELECT session_id, count(*) FROM commit_lines WHERE source = 'ai' GROUP BY 1"
    ).fetchall()
    assert sessions == [("s1", 5)]
    # A second pass finds nothing new.
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 0


def test_ai_by_tool_and_latest_ai_edit_wins(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    lines_a, lines_b = numbered("alpha", 4), numbered("beta", 2)
    now = time.time()
    record(con, "ai", lines_a, tool="copilot", ts=now - 300)
    record(con, "ai", lines_a[:1], tool="codex", ts=now - 100)
    record(con, "bulk", lines_b, ts=now - 50)
    record(con, "ai", lines_b, tool="claude-code", ts=now - 200)
    repo.commit(files={"m.py": "\n".join(lines_a + lines_b)})
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    assert ai_lines_by_tool(con) == {"claude-code": 2, "codex": 1, "copilot": 3}


def test_edits_after_the_commit_do_not_count(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    lines = numbered("late", 3)
    record(con, "ai", lines, tool="codex", ts=time.time() + 3600)
    sha = repo.commit(files={"l.py": "\n".join(lines)})
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    row = commit_row(con, sha)
    # Nothing recorded these lines before the commit, so they are unknown. This assertion
    # read (ai, human) == (0, 3) while an unobserved line counted as human.
    assert (row["ai_lines"], row["human_lines"], row["unknown_lines"]) == (0, 0, 3)


def test_external_lines_and_any_repo_match(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    ext, ai = numbered("ext", 2), numbered("elsewhere", 2)
    record(con, "external", ext, repo_id="some-other-repo")
    record(con, "ai", ai, tool="codex", repo_id="some-other-repo")
    sha = repo.commit(files={"e.py": "\n".join(ext + ai)})
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    row = commit_row(con, sha)
    assert (row["external_lines"], row["ai_lines"]) == (2, 2)


def test_other_authors_are_skipped(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    record(con, "ai", numbered("x", 3), tool="codex")
    theirs = repo.commit(files={"t.py": "\n".join(numbered("x", 3))}, email="other@example.com")
    mine = repo.commit(files={"m.py": "\n".join(numbered("y", 2))})
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 1
    skipped = con.execute("SELECT sha FROM skipped_commits").fetchall()
    assert skipped == [(theirs,)]
    assert con.execute("SELECT sha FROM commits").fetchall() == [(mine,)]


def test_squash_keeps_attribution_and_flags_old_commits(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    base = repo.commit(files={"README.md": "project readme text\n"})
    first, second = numbered("one", 3), numbered("two", 4)
    record(con, "ai", first + second, tool="claude-code")
    old1 = repo.commit(files={"a.py": "\n".join(first)})
    old2 = repo.commit(files={"b.py": "\n".join(second)})
    rp = repo_for(repo.root)
    attribute_new_commits(con, KEYER, rp, CFG)
    repo.git("reset", "--soft", base)
    squashed = repo.commit("squashed")
    assert attribute_new_commits(con, KEYER, rp, CFG) == 1
    assert commit_row(con, squashed)["ai_lines"] == 7
    assert not commit_row(con, old1)["reachable"]
    assert not commit_row(con, old2)["reachable"]
    assert commit_row(con, squashed)["reachable"]


def test_interactive_rebase_squash(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    base = repo.commit(files={"README.md": "project readme text\n"})
    lines = numbered("rb", 6)
    record(con, "ai", lines, tool="codex")
    repo.commit(files={"a.py": "\n".join(lines[:3])})
    repo.commit(files={"a.py": "\n".join(lines)})
    rp = repo_for(repo.root)
    attribute_new_commits(con, KEYER, rp, CFG)
    editor = "sed -i -e '2,$ s/^pick/squash/'"
    repo.git("rebase", "-i", base, env={"GIT_SEQUENCE_EDITOR": editor, "GIT_EDITOR": "true"})
    new = repo.head()
    assert attribute_new_commits(con, KEYER, rp, CFG) == 1
    assert commit_row(con, new)["ai_lines"] == 6
    live = con.execute("SELECT sum(ai_lines) FROM commits WHERE reachable").fetchone()
    assert live == (6,)


def test_amend_and_cherry_pick(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    repo.commit(files={"README.md": "project readme text\n"})
    lines = numbered("am", 3)
    record(con, "ai", lines, tool="copilot")
    repo.commit(files={"a.py": "\n".join(lines[:2])})
    rp = repo_for(repo.root)
    attribute_new_commits(con, KEYER, rp, CFG)
    repo.write("a.py", "\n".join(lines))
    repo.git("commit", "-q", "-a", "--amend", "--no-edit")
    amended = repo.head()
    repo.git("checkout", "-q", "-b", "other", "HEAD~1")
    repo.commit(files={"other.py": "\n".join(numbered("side", 1))})
    repo.git("cherry-pick", amended)
    picked = repo.head()
    assert attribute_new_commits(con, KEYER, rp, CFG) == 3
    assert commit_row(con, amended)["ai_lines"] == 3
    assert commit_row(con, picked)["ai_lines"] == 3


def test_reindented_code_still_matches(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    lines = numbered("fmt", 4)
    record(con, "ai", lines, tool="codex")
    reformatted = ["        " + line.replace(" = ", "=").replace("(", " ( ") for line in lines]
    sha = repo.commit(files={"f.py": "\n".join(reformatted)})
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    assert commit_row(con, sha)["ai_lines"] == 4
