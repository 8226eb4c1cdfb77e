"""A real RepoWatcher on real git work trees: file writes, commits, ignores and big trees."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from attribution_support import repo_for
from watchdog.observers import Observer

from worktally.client.external import watcher as watcher_module
from worktally.client.external.ignore_rules import IgnoreRules
from worktally.client.external.watcher import RepoWatcher

DEADLINE_S = 15.0


class Collector:
    """Thread-safe record of what the watcher's callbacks were given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, set[str]] = {}
        self.git: list[str] = []

    def on_files(self, repo_id: str, relpaths: set[str]) -> None:
        with self.lock:
            self.files.setdefault(repo_id, set()).update(relpaths)

    def on_git(self, repo_id: str) -> None:
        with self.lock:
            self.git.append(repo_id)

    def wait_for(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            with self.lock:
                if check():
                    return
            time.sleep(0.02)
        raise AssertionError(f"the watcher never reported {what}")

    def seen(self, repo_id: str) -> set[str]:
        with self.lock:
            return set(self.files.get(repo_id, set()))


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def running(collector: Collector) -> Iterator[Callable[..., RepoWatcher]]:
    started: list[RepoWatcher] = []

    def start(repos: list) -> RepoWatcher:
        w = RepoWatcher(repos, collector.on_files, collector.on_git, debounce_s=0.1)
        w.start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def test_sees_writes_and_commits_and_skips_ignored(tmp_path, git_repo, collector, running,
                                                    worktally_home):
    repo = git_repo()
    repo.commit(files={".gitignore": "*.log\nbuild/\n", "sub/.gitignore": "secret.txt\n",
                       "a.py": "x = 1\n"})
    (repo.root / ".git" / "info" / "exclude").write_text("excluded.py\n")
    rp = repo_for(repo.root)
    running([rp])
    for name in ("app.log", "build/out.py", "sub/secret.txt", "excluded.py"):
        repo.write(name, "ignored\n")
    repo.write("sub/code.py", "y = 2\n")
    repo.write("a.py", "x = 2\n")
    collector.wait_for(lambda: {"a.py", "sub/code.py"} <= collector.files.get(rp.repo_id, set()),
                       "the two written files")
    assert collector.seen(rp.repo_id) == {"a.py", "sub/code.py"}
    repo.commit("commit a.py")
    collector.wait_for(lambda: rp.repo_id in collector.git, "the commit")


def test_update_adds_and_removes_repos(tmp_path, git_repo, collector, running, worktally_home):
    one, two = git_repo("one"), git_repo("two")
    r1, r2 = repo_for(one.root), repo_for(two.root)
    w = running([r1])
    w.update([r1, r2])
    two.write("t.py", "t = 1\n")
    collector.wait_for(lambda: "t.py" in collector.files.get(r2.repo_id, set()), "repo two")
    w.update([r2])
    one.write("gone.py", "g = 1\n")
    two.write("still.py", "s = 1\n")
    collector.wait_for(lambda: "still.py" in collector.files.get(r2.repo_id, set()), "repo two")
    assert "gone.py" not in collector.seen(r1.repo_id)


@pytest.mark.slow
def test_symlink_loop_and_a_20k_file_tree(tmp_path, git_repo, collector, running,
                                          worktally_home):
    repo = git_repo()
    for d in range(100):
        folder = repo.root / "tree" / f"d{d}"
        folder.mkdir(parents=True)
        for f in range(200):
            (folder / f"f{f}.py").write_text("v = 1\n")
    (repo.root / "loop").symlink_to(repo.root)
    (repo.root / "tree" / "up").symlink_to(repo.root / "tree")
    rp = repo_for(repo.root)
    began = time.monotonic()
    running([rp])
    assert time.monotonic() - began < 10, "watching 20k files took too long to start"
    repo.write("tree/d57/new.py", "n = 1\n")
    collector.wait_for(lambda: "tree/d57/new.py" in collector.files.get(rp.repo_id, set()),
                       "a write deep in a big tree")


class LimitedObserver(Observer):  # type: ignore[misc,valid-type]
    """watchdog's observer on a machine whose inotify watch limit is already used up."""

    def schedule(self, handler, path, *, recursive=False, **kwargs):
        if recursive:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")
        return super().schedule(handler, path, recursive=recursive, **kwargs)


def test_watch_limit_warns_and_still_sees_commits(git_repo, collector, running, caplog,
                                                  monkeypatch, worktally_home):
    monkeypatch.setattr(watcher_module, "Observer", LimitedObserver)
    repo = git_repo()
    repo.commit(files={"a.py": "x = 1\n"})
    rp = repo_for(repo.root)
    with caplog.at_level(logging.WARNING, logger="worktally.client.external.watcher"):
        running([rp])
    assert "max_user_watches" in caplog.text
    assert str(repo.root) not in caplog.text
    repo.commit(files={"a.py": "x = 2\n"})
    collector.wait_for(lambda: rp.repo_id in collector.git, "the commit")


def test_a_failing_callback_does_not_stop_the_watcher(git_repo, collector, worktally_home):
    repo = git_repo()
    rp = repo_for(repo.root)
    calls: list[set[str]] = []

    def flaky(repo_id: str, relpaths: set[str]) -> None:
        calls.append(relpaths)
        if len(calls) == 1:
            raise RuntimeError("boom")
        collector.on_files(repo_id, relpaths)

    w = RepoWatcher([rp], flaky, collector.on_git, debounce_s=0.1)
    w.start()
    try:
        repo.write("first.py", "f = 1\n")
        deadline = time.monotonic() + DEADLINE_S
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        repo.write("second.py", "s = 1\n")
        collector.wait_for(lambda: "second.py" in collector.files.get(rp.repo_id, set()),
                           "a change after a failing callback")
    finally:
        w.stop()


def test_ignore_rules_nested_and_forget(tmp_path):
    root = tmp_path / "r"
    (root / ".git" / "info").mkdir(parents=True)
    (root / "pkg").mkdir()
    (root / ".gitignore").write_text("*.tmp\n")
    (root / "pkg" / ".gitignore").write_text("local/\n")
    rules = IgnoreRules(root)
    assert rules.ignored("x.tmp") and rules.ignored("pkg/y.tmp")
    assert rules.ignored("pkg/local/z.py") and not rules.ignored("local/z.py")
    assert rules.ignored(".git/config") and rules.ignored("vendor/.git/HEAD")
    assert not rules.ignored("pkg/main.py")
    (root / "pkg" / ".gitignore").write_text("main.py\n")
    assert not rules.ignored("pkg/main.py")  # cached until told
    rules.forget("pkg/.gitignore")
    assert rules.ignored("pkg/main.py")


def test_missing_repo_folder_is_skipped(tmp_path, git_repo, collector, running, worktally_home):
    gone = repo_for(tmp_path / "deleted")
    repo = git_repo()
    rp = repo_for(repo.root)
    running([gone, rp])
    repo.write("ok.py", "o = 1\n")
    collector.wait_for(lambda: "ok.py" in collector.files.get(rp.repo_id, set()), "the live repo")
