"""Shared fixtures: a private WORKTALLY_HOME per test and a factory for real git repos; and in
CI, a skipped end-to-end or ccusage test fails instead of passing quietly."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from git_support import GitRepo, GitRepoFactory, git_env

E2E_DIR = Path(__file__).resolve().parent / "e2e"
# Tests with these markers (or under tests/e2e/) may not skip in CI: a missing Neovim,
# Chromium, Node or ../shared/samples there is a broken CI machine, not a reason to pass.
MUST_RUN_MARKERS = ("e2e", "ccusage")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def _must_run(node: pytest.Item | pytest.Collector) -> bool:
    marked = any(node.get_closest_marker(name) for name in MUST_RUN_MARKERS)
    return marked or node.path.is_relative_to(E2E_DIR)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip's (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI, a must-run test that skipped (in a skipif, a fixture or its body) fails."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and _in_ci() and _must_run(item):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI: {_skip_reason(report)}"
    return report


class SkippedInCi(pytest.Item):
    """Stands in for a module that skipped itself at import (`allow_module_level=True`), whose
    tests therefore never exist: in CI it is one failing test that says why."""

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        pytest.fail(f"skipped in CI: {self.reason}", pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """In CI, a must-run module skipped at import becomes a failing stand-in test (a collection
    error instead would stop the whole run before any test)."""
    report = yield
    if not (report.skipped and _in_ci() and _must_run(collector)):
        return report
    stand_in = SkippedInCi.from_parent(collector, name="skipped_at_import",
                                       reason=_skip_reason(report))
    stand_in.add_marker("e2e")  # so `-m "not e2e"` still deselects it
    return pytest.CollectReport(report.nodeid, "passed", None, [stand_in])


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
    # The other tools' homes point nowhere (a missing folder is no root at all).
    for variable in ("GEMINI_DATA_DIR", "OPENCODE_DATA_DIR", "COPILOT_HOME", "AMP_DATA_DIR",
                     "DROID_SESSIONS_DIR", "QWEN_DATA_DIR", "AIDER_ANALYTICS_LOG"):
        monkeypatch.setenv(variable, str(tmp_path / f"absent-{variable.lower()}"))
    for variable in ("COPILOT_OTEL_FILE_EXPORTER_PATH", "AIDER_CHAT_HISTORY_FILE"):
        monkeypatch.delenv(variable, raising=False)


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
