"""The registry of watched git work trees, kept in repos.json (0600), outside the database.

The database only ever sees `repo_id`, a keyed label of the path; this file is the one local
place that maps it back, so `worktally commits` can show the path to its owner.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from worktally.client import paths
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.errors import GitError, WorktallyError

GIT_TIMEOUT_S = 10
# What worktally does with a repo's git-ai notes (refs/notes/ai) at each sync: `read` them
# into attribution (the default; reading changes nothing in the repo), also `write` notes for
# your commits that have none, or leave them alone (`off`).
GIT_AI_NOTES_MODES = ("read", "write", "off")


@dataclass(frozen=True)
class Repo:
    repo_id: str
    path: str
    added_at: float
    git_ai_notes: str = "read"


def work_tree_root(path: Path) -> Path:
    """The top of the git work tree containing `path`; GitError if it is not in one."""
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"could not run git: {exc}") from exc
    if out.returncode != 0 or not out.stdout.strip():
        raise GitError("that folder is not inside a git work tree")
    return Path(out.stdout.strip()).resolve()


class RepoRegistry:
    def __init__(self, keyer: LineKeyer, file: Path | None = None) -> None:
        self.keyer = keyer
        self.file = file or paths.repos_path()

    def _load(self) -> dict[str, Repo]:
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise WorktallyError(
                f"{self.file.name} is unreadable ({exc}); fix or remove it"
            ) from exc
        return {r["repo_id"]: Repo(**r) for r in raw.get("repos", [])}

    def _save(self, repos: dict[str, Repo]) -> None:
        doc = {"repos": [asdict(r) for r in sorted(repos.values(), key=lambda r: r.path)]}
        paths.write_private(self.file, json.dumps(doc, indent=2).encode())

    def repo_id_for(self, root: Path) -> str:
        return self.keyer.label(str(root))

    def add(self, path: Path) -> Repo:
        root = work_tree_root(path)
        repos = self._load()
        repo_id = self.repo_id_for(root)
        if repo_id not in repos:
            repos[repo_id] = Repo(repo_id=repo_id, path=str(root), added_at=time.time())
            self._save(repos)
        return repos[repo_id]

    def remove(self, path_or_id: str) -> Repo | None:
        repos = self._load()
        target = repos.get(path_or_id)
        if target is None:
            try:
                target = repos.get(self.repo_id_for(Path(path_or_id).resolve()))
            except OSError:
                target = None
        if target is None:
            return None
        del repos[target.repo_id]
        self._save(repos)
        return target

    def set_git_ai_notes(self, path_or_id: str, mode: str) -> Repo | None:
        """Set what a sync does with the repo's git-ai notes; None if it is not registered."""
        if mode not in GIT_AI_NOTES_MODES:
            raise WorktallyError(
                f"--git-ai-notes must be one of {', '.join(GIT_AI_NOTES_MODES)}, not {mode!r}")
        repos = self._load()
        target = self._find(repos, path_or_id)
        if target is None:
            return None
        repos[target.repo_id] = replace(target, git_ai_notes=mode)
        self._save(repos)
        return repos[target.repo_id]

    def _find(self, repos: dict[str, Repo], path_or_id: str) -> Repo | None:
        """A repo by id, by its root, or by any folder inside its work tree."""
        if path_or_id in repos:
            return repos[path_or_id]
        try:
            root = work_tree_root(Path(path_or_id))
        except GitError:
            return None
        return repos.get(self.repo_id_for(root))

    def list(self) -> list[Repo]:
        return sorted(self._load().values(), key=lambda r: r.path)

    def get(self, repo_id: str) -> Repo | None:
        return self._load().get(repo_id)

    def find_containing(self, path: Path) -> Repo | None:
        """The registered repo whose work tree contains `path`, if any (deepest wins)."""
        resolved = path.resolve()
        best: Repo | None = None
        for repo in self._load().values():
            root = Path(repo.path)
            inside = resolved == root or root in resolved.parents
            if inside and (best is None or len(repo.path) > len(best.path)):
                best = repo
        return best
