"""Shared fixtures: a private WORKTALLY_HOME per test and a factory for real git repos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from git_support import GitRepo, GitRepoFactory, git_env


@pytest.fixture(scope="session", autouse=True)
def never_the_real_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Defaults for the whole run, so even a module-scoped fixture or a test that forgets
    `worktally_home` never writes the real WORKTALLY_HOME or reads real AI-tool logs."""
    base = tmp_path_factory.mktemp("session-defaults")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKTALLY_HOME", str(base / "wt-home"))
        for variable in ("CLAUDE_CONFIG_DIR", "CODEX_HOME"):
            empty = base / f"empty-{variable.lower()}"
            empty.mkdir()
            mp.setenv(variable, str(empty))
        yield


@pytest.fixture
def worktally_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "wt-home"
    monkeypatch.setenv("WORKTALLY_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_real_ai_tool_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the importers' default folders at empty ones, so no test (or program it starts)
    ever reads the ~/.claude or ~/.codex of the machine running the suite. Tests that need
    transcripts set these variables again."""
    for variable in ("CLAUDE_CONFIG_DIR", "CODEX_HOME"):
        empty = tmp_path / f"empty-{variable.lower()}"
        empty.mkdir(exist_ok=True)
        monkeypatch.setenv(variable, str(empty))


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepoFactory:
    """Factory: git_repo("name") makes an initialised repo with user.name/email set.

    The code under test runs git too, so the machine's global config is hidden from it.
    """
    env = git_env(tmp_path)
    for name in ("GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"):
        monkeypatch.setenv(name, env[name])

    def make(name: str = "repo", email: str = "dev@example.com") -> GitRepo:
        root = tmp_path / name
        root.mkdir(parents=True)
        repo = GitRepo(root, env)
        repo.git("init", "-q", "-b", "main")
        repo.git("config", "user.name", "Dev")
        repo.git("config", "user.email", email)
        repo.git("config", "commit.gpgsign", "false")
        return repo

    return make
