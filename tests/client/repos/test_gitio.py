"""The git adapter against real repositories."""

from __future__ import annotations

import time

import pytest
from attribution_support import numbered
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.errors import GitError
from worktally.client.repos import gitio


def test_list_commits_and_added_lines(git_repo):
    repo = git_repo()
    first = repo.commit(files={"a.py": "one_line = 1\ntwo_line = 2\n"})
    second = repo.commit(files={"a.py": "one_line = 1\nchanged = 3\n", "sp ace/é.py": "x = 1\n"})
    commits = {c.sha: c for c in gitio.list_commits(repo.root, time.time() - 3600)}
    assert set(commits) == {first, second}
    assert commits[second].parents == (first,)
    assert commits[first].parents == ()
    assert commits[second].author_email == "dev@example.com"
    assert gitio.added_lines(repo.root, first, None) == {"a.py": ["one_line = 1", "two_line = 2"]}
    assert gitio.added_lines(repo.root, second, first) == {
        "a.py": ["changed = 3"], "sp ace/é.py": ["x = 1"]}
    assert sorted(gitio.changed_files(repo.root, second, first)) == ["a.py", "sp ace/é.py"]


def test_parse_added_ignores_header_lookalikes():
    diff = (b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-+++ old\n+++ plus line\n"
            b"+--- minus line\n\\ No newline at end of file\n")
    assert gitio.parse_added(diff) == {"x": ["++ plus line", "--- minus line"]}


def test_blobs_status_email_and_reachability(git_repo):
    repo = git_repo()
    assert gitio.head_sha(repo.root) is None
    assert gitio.list_commits(repo.root, 0) == []
    sha = repo.commit(files={"a.py": "alpha\n", "b.bin": "beta\n"})
    assert gitio.read_blobs(repo.root, "HEAD", ["a.py", "missing.py"]) == {
        "a.py": b"alpha\n", "missing.py": None}
    repo.write("a.py", "changed\n")
    repo.write("new dir/n.py", "new\n")
    (repo.root / "b.bin").unlink()
    assert sorted(gitio.status_paths(repo.root)) == ["a.py", "new dir/n.py"]
    assert gitio.configured_email(repo.root) == "dev@example.com"
    assert gitio.reachable_shas(repo.root, time.time() - 3600) == {sha}


def test_errors_are_git_errors(tmp_path):
    with pytest.raises(GitError):
        gitio.run(tmp_path, "rev-parse", "--show-toplevel")


def test_shallow_boundary_empty_for_full_repo(git_repo):
    repo = git_repo()
    repo.commit(files={"a.py": "\n".join(numbered("a", 1))})
    assert gitio.shallow_boundary(repo.root) == set()


def test_quoted_path_names(git_repo):
    repo = git_repo()
    sha = repo.commit(files={'tab\there "q".py': "quoted_name = 1\n"})
    assert gitio.added_lines(repo.root, sha, None) == {'tab\there "q".py': ["quoted_name = 1"]}


def test_read_blobs_skips_blobs_over_the_limit(git_repo):
    repo = git_repo()
    repo.commit(files={"small.py": "s = 1\n", "big.py": "b = 1\n" * 1000})
    got = gitio.read_blobs(repo.root, "HEAD", ["small.py", "big.py", "../x", "dir/"], 100)
    assert got == {"small.py": b"s = 1\n", "big.py": None, "../x": None, "dir/": None}


_LINE = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
                max_size=30)


@given(st.lists(_LINE, min_size=1, max_size=20), st.lists(_LINE, max_size=20))
def test_parse_added_returns_every_added_line(added, removed):
    body = "".join(f"-{line}\n" for line in removed) + "".join(f"+{line}\n" for line in added)
    diff = (f"diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n{body}"
            "diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n"
            "-old\n").encode()
    assert gitio.parse_added(diff) == {"f.py": added}
