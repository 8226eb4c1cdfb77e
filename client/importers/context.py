"""Turns the paths a transcript mentions into keyed ids, so no path ever reaches the store.

A session's cwd becomes a registered repo's id (or None outside every repo); a file an agent
wrote becomes `keyer.label(path relative to its repo root)`, as everywhere in worktally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.importers import keying
from worktally.client.repos.registry import RepoRegistry


@dataclass
class ImportContext:
    keyer: LineKeyer
    registry: RepoRegistry
    _repos: list[tuple[str, str]] | None = None
    _cwd_cache: dict[str, str | None] = field(default_factory=dict)

    def _pairs(self) -> list[tuple[str, str]]:
        """(repo_id, root) of every registered repository, read once per import."""
        if self._repos is None:
            self._repos = [(repo.repo_id, repo.path) for repo in self.registry.list()]
        return self._repos

    def repo_for_cwd(self, cwd: str) -> str | None:
        """The repo_id of the registered work tree containing `cwd`, or None."""
        if cwd not in self._cwd_cache:
            found = keying.containing(self._pairs(), keying.normal(cwd))
            if found is None:
                repo = self.registry.find_containing(Path(cwd))
                found = (repo.repo_id, repo.path) if repo else None
            self._cwd_cache[cwd] = found[0] if found else None
        return self._cwd_cache[cwd]

    def file_ids(self, path: str, cwd: str | None) -> tuple[str | None, str]:
        """(repo_id, file_id) for a file an agent wrote; relative paths start at `cwd`."""
        return keying.file_ids(self.keyer, self._pairs(), path, cwd)

    def new_keys(self, new_text: str, old_text: str = "") -> tuple[tuple[int, ...], int]:
        """Keys of lines in `new_text` that `old_text` did not already hold, and their count."""
        return keying.new_keys(self.keyer, new_text, old_text)
