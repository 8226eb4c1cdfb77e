"""Real git work trees for tests: an isolated git environment and a small commit helper.

A module of its own (not conftest.py) so test files can import GitRepo unambiguously:
several conftest.py files exist under tests/.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

GIT_TIMEOUT_S = 30
GIT_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def git_env(home: Path) -> dict[str, str]:
    """A git environment that ignores the machine's global and system config."""
    env = {k: v for k, v in os.environ.items() if k in GIT_ENV_KEEP}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig-none"),
        GIT_TERMINAL_PROMPT="0",
    )
    return env


class GitRepo:
    """A real git work tree in tmp_path with helpers to write files and commit them."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def git(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        out = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True,
            timeout=GIT_TIMEOUT_S, check=False, env={**self.env, **(env or {})},
        )
        if check and out.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {out.stderr}")
        return out.stdout.strip()

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def commit(
        self, message: str = "change", files: dict[str, str] | None = None,
        email: str | None = None, when: int | None = None,
    ) -> str:
        """Write `files`, stage everything and commit; returns the new sha."""
        for relpath, text in (files or {}).items():
            self.write(relpath, text)
        self.git("add", "-A")
        extra: dict[str, str] = {}
        if email is not None:
            extra.update(GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_NAME="Someone Else")
        if when is not None:
            stamp = f"{when} +0000"
            extra.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        self.git("commit", "--allow-empty", "-q", "-m", message, env=extra)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


GitRepoFactory = Callable[..., GitRepo]
