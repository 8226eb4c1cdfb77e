"""Turns the paths a transcript mentions into keyed ids, so no path ever reaches the store.

A session's cwd becomes a registered repo's id (or None outside every repo); a file an agent
wrote becomes `keyer.label(path relative to its repo root)`, as everywhere in worktally.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from worktally.client.capture.line_keys import LineKeyer, lines_of, normalise
from worktally.client.repos.registry import Repo, RepoRegistry


@dataclass
class ImportContext:
    keyer: LineKeyer
    registry: RepoRegistry
    _repos: list[Repo] | None = None
    _cwd_cache: dict[str, str | None] = field(default_factory=dict)

    def _all_repos(self) -> list[Repo]:
        if self._repos is None:
            self._repos = self.registry.list()
        return self._repos

    def _containing(self, absolute: str) -> Repo | None:
        # A pure path test (no resolve()): transcripts name paths on this machine, often
        # of files already gone, and the registry stores resolved roots.
        best: Repo | None = None
        for repo in self._all_repos():
            root = repo.path.rstrip("/") or "/"
            inside = absolute == root or absolute.startswith(root + "/") or root == "/"
            if inside and (best is None or len(repo.path) > len(best.path)):
                best = repo
        return best

    def repo_for_cwd(self, cwd: str) -> str | None:
        """The repo_id of the registered work tree containing `cwd`, or None."""
        if cwd not in self._cwd_cache:
            repo = self._containing(_normal(cwd)) or self.registry.find_containing(Path(cwd))
            self._cwd_cache[cwd] = repo.repo_id if repo else None
        return self._cwd_cache[cwd]

    def file_ids(self, path: str, cwd: str | None) -> tuple[str | None, str]:
        """(repo_id, file_id) for a file an agent wrote; relative paths start at `cwd`."""
        if not posixpath.isabs(path) and cwd:
            path = posixpath.join(cwd, path)
        absolute = _normal(path)
        repo = self._containing(absolute) if posixpath.isabs(absolute) else None
        if repo is None:
            return None, self.keyer.label(absolute)
        relative = PurePosixPath(absolute).relative_to(repo.path.rstrip("/") or "/")
        return repo.repo_id, self.keyer.label(relative.as_posix())

    def new_keys(self, new_text: str, old_text: str = "") -> tuple[tuple[int, ...], int]:
        """Keys of lines in `new_text` that `old_text` did not already hold, and their count.

        An Edit's new_string repeats unchanged context from old_string; those lines were in
        the file before the agent touched it, so they are not the agent's. The count is of
        lines that count (keyed ones), the same rule as every other producer.
        """
        lines = lines_of(new_text)
        if not old_text:
            keys = tuple(self.keyer.keys(lines))
            return keys, len(keys)
        before = Counter(normalise(line) for line in lines_of(old_text))
        keys_out: list[int] = []
        for line in lines:
            norm = normalise(line)
            if before[norm] > 0:
                before[norm] -= 1
                continue
            key = self.keyer.key(line)
            if key is not None:
                keys_out.append(key)
        return tuple(keys_out), len(keys_out)


def _normal(path: str) -> str:
    return posixpath.normpath(path) if path else path
