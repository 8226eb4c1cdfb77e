"""Attribution must not crash on unusual histories: merges, roots, shallow clones, submodules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from attribution_support import KEYER, commit_row, numbered, open_db, record, repo_for
from git_support import GitRepo

from worktally.client.attribution.commits import attribute_new_commits
from worktally.client.config import Config

CFG = Config()


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def test_root_commit_and_merge(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    lines = numbered("root", 3)
    record(con, "ai", lines, tool="codex")
    root = repo.commit(files={"r.py": "\n".join(lines)})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(files={"f.py": "\n".join(numbered("feat", 2))})
    repo.git("checkout", "-q", "main")
    repo.commit(files={"m.py": "\n".join(numbered("main", 2))})
    repo.git("merge", "-q", "--no-edit", "feature")
    merge = repo.head()
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 4
    assert commit_row(con, root)["ai_lines"] == 3
    row = commit_row(con, merge)
    assert row["is_merge"] and row["lines_added"] == 0
    total = con.execute("SELECT sum(lines_added) FROM commits").fetchone()
    assert total == (7,)


def test_binary_empty_and_detached_head(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    repo.commit(files={"a.py": "\n".join(numbered("a", 2))})
    (repo.root / "blob.bin").write_bytes(b"\x00\x01binary_payload_line\n" * 50)
    binary = repo.commit(files={"b.py": "\n".join(numbered("b", 1))})
    empty = repo.commit("nothing")
    repo.git("checkout", "-q", "--detach", "HEAD~1")
    detached = repo.commit(files={"d.py": "\n".join(numbered("d", 2))})
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 4
    assert commit_row(con, binary)["lines_added"] == 1
    assert commit_row(con, empty)["lines_added"] == 0
    assert commit_row(con, detached)["lines_added"] == 2


def test_shallow_clone(tmp_path, git_repo):
    origin = git_repo("origin")
    for i in range(3):
        origin.commit(files={f"f{i}.py": "\n".join(numbered(f"s{i}", 2))})
    clone_root = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{origin.root}",
                    str(clone_root)], check=True, timeout=30, env=origin.env)
    clone = GitRepo(clone_root, origin.env)
    clone.git("config", "user.email", "dev@example.com")
    new = clone.commit(files={"n.py": "\n".join(numbered("new", 3))})
    con = open_db(tmp_path)
    # The boundary commit has hidden parents: it is not attributed, the new one is.
    assert attribute_new_commits(con, KEYER, repo_for(clone_root), CFG) == 1
    assert commit_row(con, new)["lines_added"] == 3


def test_submodule_is_not_descended(tmp_path, git_repo):
    sub = git_repo("sub")
    sub.commit(files={"s.py": "\n".join(numbered("inner", 5))})
    repo = git_repo()
    repo.commit(files={"a.py": "\n".join(numbered("outer", 1))})
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q",
             str(sub.root), "vendor/sub")
    added = repo.commit("add submodule")
    con = open_db(tmp_path)
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 2
    # .gitmodules lines only; the submodule's own files are not this repo's lines.
    assert commit_row(con, added)["lines_added"] <= 3


def test_huge_commit(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    lines = numbered("huge", 50_000)
    record(con, "ai", lines[:20_000], tool="codex")
    sha = repo.commit(files={"h.py": "\n".join(lines)})
    attribute_new_commits(con, KEYER, repo_for(repo.root), CFG)
    row = commit_row(con, sha)
    assert (row["lines_added"], row["ai_lines"]) == (50_000, 20_000)


def test_no_commits_and_no_email(tmp_path, git_repo):
    repo = git_repo()
    con = open_db(tmp_path)
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 0
    repo.commit(files={"a.py": "\n".join(numbered("a", 2))})
    repo.git("config", "--unset", "user.email")
    assert attribute_new_commits(con, KEYER, repo_for(repo.root), CFG) == 0
    assert con.execute("SELECT count(*) FROM skipped_commits").fetchone() == (0,)
