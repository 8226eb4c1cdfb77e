"""One simulated developer's machine: own WORKTALLY_HOME, git repo, Claude Code transcripts.

Everything a developer does goes through real programs: git, `worktally lsp`, and the
`worktally` CLI (repos add, sync, enroll, report send), each with a timeout.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worktally.client import config, paths
from worktally.client.demo import transcripts
from worktally.client.demo.editor_session import run_editor_session
from worktally.client.demo.scenario import BASE_FILE, BASE_TEXT, DeveloperPlan
from worktally.client.errors import WorktallyError

CLI_TIMEOUT_S = 300.0
GIT_TIMEOUT_S = 60.0
WORKTALLY_CLI = (sys.executable, "-m", "worktally.client.cli")
# Variables that would route loopback HTTP through a proxy or leak the real user's setup.
_DROPPED_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy", "GIT_DIR", "GIT_WORK_TREE")


class DeveloperStepError(WorktallyError):
    """A developer's step (git or a worktally command) failed."""


@dataclass(frozen=True)
class Machine:
    """The folders of one developer; nothing is shared between two developers."""

    plan: DeveloperPlan
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "worktally-home"

    @property
    def claude_dir(self) -> Path:
        return self.root / "claude"

    @property
    def repo(self) -> Path:
        return self.root / self.plan.repo_dir

    @property
    def outside(self) -> Path:
        """A folder in no repo: where the no-context agent sessions run."""
        return self.root / "notes"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update(
            HOME=str(self.root), WORKTALLY_HOME=str(self.home),
            CLAUDE_CONFIG_DIR=str(self.claude_dir), CODEX_HOME=str(self.root / "codex"),
            GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(self.root / ".gitconfig-none"),
            GIT_TERMINAL_PROMPT="0", NO_PROXY="127.0.0.1,localhost",
        )
        return env

    def git(self, *args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=self.repo, capture_output=True, text=True,
                                 timeout=GIT_TIMEOUT_S, env=self.env(), check=False)
        except subprocess.TimeoutExpired as exc:
            raise DeveloperStepError(f"{self.plan.name}: git {args[0]} timed out") from exc
        if out.returncode != 0:
            raise DeveloperStepError(f"{self.plan.name}: git {args[0]} failed: "
                                     f"{out.stderr.strip()[-300:]}")
        return out.stdout

    def worktally(self, *args: str) -> str:
        """Run `worktally ARGS` as this developer; a failure names the command."""
        what = f"{self.plan.name}: worktally {' '.join(a for a in args if a != '--json')}"
        try:
            out = subprocess.run([*WORKTALLY_CLI, *args], capture_output=True, text=True,
                                 timeout=CLI_TIMEOUT_S, env=self.env(), cwd=self.root,
                                 check=False)
        except subprocess.TimeoutExpired as exc:
            raise DeveloperStepError(f"{what} timed out after {CLI_TIMEOUT_S:.0f}s") from exc
        if out.returncode != 0:
            raise DeveloperStepError(f"{what} failed: {out.stderr.strip()[-300:]}")
        return out.stdout

    def worktally_json(self, *args: str) -> Any:
        return json.loads(self.worktally(*args, "--json"))


def set_up(machine: Machine, aggregator_url: str, helper_url: str, cohort: str,
           survival_days: int, transcripts_start: dt.datetime) -> None:
    """Folders, config, an initial commit and the agent transcripts the developer will import."""
    for folder in (machine.root, machine.home, machine.claude_dir, machine.outside):
        paths.ensure_private_dir(folder)
    cfg = machine.home / "config.toml"
    config.set_value("attribution.survival_days", survival_days, cfg)
    config.set_value("report.aggregator_url", aggregator_url, cfg)
    # As a privacy office would tell its people: the helper to expect.
    config.set_value("report.helper_url", helper_url, cfg)
    config.set_value("report.cohort", cohort, cfg)
    # The demo machine has no OTLP exporters; the agent is never started, so keep it off.
    config.set_value("otlp.enabled", False, cfg)
    machine.repo.mkdir(parents=True, exist_ok=True)
    machine.git("init", "-q", "-b", "main")
    machine.git("config", "user.name", machine.plan.name)
    machine.git("config", "user.email", machine.plan.email)
    machine.git("config", "commit.gpgsign", "false")
    (machine.repo / "src").mkdir(exist_ok=True)
    (machine.repo / BASE_FILE).write_text(BASE_TEXT, encoding="utf-8")
    (machine.repo / "README.md").write_text(f"# {machine.plan.name}\n", encoding="utf-8")
    machine.git("add", "-A")
    machine.git("commit", "-q", "-m", "Initial layout")
    transcripts.write_sessions(machine.claude_dir, machine.plan.sessions,
                               machine.repo.resolve(), machine.outside.resolve(),
                               transcripts_start)


def work(machine: Machine) -> dict[str, Any]:
    """The developer's work: register the repo, edit, let the agent write, sync, commit, sync."""
    machine.worktally_json("repos", "add", str(machine.repo))
    run_editor_session(machine.repo.resolve(), machine.plan.editor, machine.env())
    transcripts.apply_writes(machine.plan.sessions, machine.repo)
    # Edits and transcripts are stored before the commit, so the commit is matched to them.
    machine.worktally_json("sync")
    machine.git("add", "-A")
    machine.git("commit", "-q", "-m", "Ship the week's work")
    synced = dict(machine.worktally_json("sync"))
    if not synced.get("commits"):
        raise DeveloperStepError(f"{machine.plan.name}: sync did not attribute the week's "
                                 "commit; check the repo's user.email")
    return synced


def report(machine: Machine, url: str, token: str, window: str) -> dict[str, Any]:
    """Enroll with a personal token, send the window's report, and read the yearly budget."""
    machine.worktally_json("enroll", url, token)
    sent = dict(machine.worktally_json("report", "send", "--window", window))
    status = machine.worktally_json("status")
    return {**sent, "budget_spent": float(status["report"]["budget"]["spent"])}
