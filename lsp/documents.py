"""What the server knows about each open document: its keyed ids, its tracker, its signals.

Paths turn into keyed ids here, once per document, so nothing downstream ever holds a path
except the work tree root that is registered with the agent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from worktally.client.capture.line_keys import LineKeyer
from worktally.lsp.positions import UTF16, count_breaks
from worktally.lsp.signals import SignalMatcher
from worktally.lsp.tracker import DocumentTracker


@functools.lru_cache(maxsize=4096)
def find_work_tree_root(directory: Path) -> Path | None:
    """The nearest ancestor holding `.git` (a dir, or a file in worktrees and submodules)."""
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def path_of_uri(uri: str) -> Path | None:
    """The resolved local path of a file: URI, or None for untitled and remote documents."""
    if not uri.startswith("file:"):
        return None
    fs_path = to_fs_path(uri)
    if not fs_path:
        return None
    # resolve() so the root matches `git rev-parse --show-toplevel`, which the agent uses.
    return Path(fs_path).resolve()


@dataclass(frozen=True)
class DocumentIdentity:
    """Keyed ids of a document; `root` stays in memory only, for repo registration."""

    file_id: str
    repo_id: str | None
    language: str
    root: str | None


def identify(path: Path, language: str, keyer: LineKeyer) -> DocumentIdentity:
    """repo_id and file_id as docs/architecture.md defines them."""
    root = find_work_tree_root(path.parent)
    if root is None:
        return DocumentIdentity(keyer.label(str(path)), None, language, None)
    relative = path.relative_to(root).as_posix()
    return DocumentIdentity(keyer.label(relative), keyer.label(str(root)), language, str(root))


@dataclass
class OpenDocument:
    """Live state of one document; `text` is pygls's own object, kept past didClose."""

    uri: str
    identity: DocumentIdentity
    text: TextDocument
    tracker: DocumentTracker
    signals: SignalMatcher = field(default_factory=lambda: SignalMatcher(2.0))

    @classmethod
    def open(
        cls, uri: str, identity: DocumentIdentity, text: TextDocument, signal_window_s: float,
        encoding: str = UTF16,
    ) -> OpenDocument:
        tracker = DocumentTracker(count_breaks(text.source) + 1, encoding)
        return cls(uri, identity, text, tracker, SignalMatcher(signal_window_s))
