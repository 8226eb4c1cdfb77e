"""Decide whether a work-tree path is ignored by git, without running git for every event.

Rules come from the root `.gitignore`, `.git/info/exclude` and each nested `.gitignore`
(read lazily, once per directory, and forgotten when that file changes). A path counts as
ignored when any level's rules match it; negations only work within one file.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

import pathspec

log = logging.getLogger(__name__)

MAX_IGNORE_FILE_BYTES = 1_000_000


class IgnoreRules:
    """Cached .gitignore rules of one work tree; `ignored()` takes '/'-separated paths."""

    def __init__(self, root: Path, git_dir: Path | None = None) -> None:
        self.root = root
        self.git_dir = git_dir or root / ".git"
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}

    def ignored(self, relpath: str) -> bool:
        parts = PurePosixPath(relpath).parts
        if ".git" in parts:
            return True
        for depth in range(len(parts)):
            directory = "/".join(parts[:depth])
            spec = self._spec(directory)
            if spec is not None and spec.match_file("/".join(parts[depth:])):
                return True
        return False

    def forget(self, relpath: str) -> None:
        """Drop cached rules after a .gitignore (or info/exclude) changed."""
        path = PurePosixPath(relpath)
        if path.name == ".gitignore":
            parent = str(path.parent)
            self._specs.pop("" if parent == "." else parent, None)
        elif relpath.endswith("info/exclude"):
            self._specs.pop("", None)

    def _spec(self, directory: str) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._specs:
            sources = [self.root / directory / ".gitignore"]
            if directory == "":
                sources.append(self.git_dir / "info" / "exclude")
            lines: list[str] = []
            for source in sources:
                lines.extend(_read_lines(source))
            self._specs[directory] = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self._specs[directory]


def _read_lines(path: Path) -> list[str]:
    try:
        if not path.is_file() or path.stat().st_size > MAX_IGNORE_FILE_BYTES:
            return []
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        log.debug("could not read an ignore file: %s", exc.strerror)
        return []
