"""The pure core both the importers and the hooks key edits with: which lines an edit adds,
which registered repository holds a file, and the (new, old) text pairs of Claude Code's edit
tools. One implementation, so a hook and the transcript importer key a call identically.

Deliberately light (no dataclasses, no DuckDB, no subprocess): the hook command imports it
on every edit an agent makes.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import Counter
from collections.abc import Sequence
from typing import Any

from worktally.client.capture.line_keys import LineKeyer, lines_of, normalise

CLAUDE_EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")
# (repo_id, work tree root) of every registered repository.
Repos = Sequence[tuple[str, str]]


def edit_event_id(tool: str, call_id: str, file_id: str) -> str:
    """Stable per tool call and file, so a re-read, a copied log or a hook never doubles."""
    return hashlib.sha256(f"{tool}\0{call_id}\0{file_id}".encode()).hexdigest()[:32]


def new_keys(keyer: LineKeyer, new_text: str, old_text: str = "") -> tuple[tuple[int, ...], int]:
    """Keys of lines in `new_text` that `old_text` did not already hold, and their count.

    An edit's new text repeats unchanged context from the old text; those lines were in the
    file before the agent touched it, so they are not the agent's. The count is of lines that
    count (keyed ones), the same rule as every other producer; text splits at "\n" only, as
    git splits it (`lines_of`).
    """
    lines = lines_of(new_text)
    if old_text:
        before = Counter(normalise(line) for line in lines_of(old_text))
        kept: list[str] = []
        for line in lines:
            norm = normalise(line)
            if before[norm] > 0:
                before[norm] -= 1
            else:
                kept.append(line)
        lines = kept
    keys = tuple(keyer.keys(lines))
    return keys, len(keys)


def normal(path: str) -> str:
    return posixpath.normpath(path) if path else path


def containing(repos: Repos, absolute: str) -> tuple[str, str] | None:
    """The deepest registered (repo_id, root) holding `absolute`, by path alone.

    No resolve(): logs name paths on this machine, often of files already gone, and the
    registry stores resolved roots.
    """
    best: tuple[str, str] | None = None
    for repo_id, path in repos:
        root = path.rstrip("/") or "/"
        inside = absolute == root or absolute.startswith(root + "/") or root == "/"
        if inside and (best is None or len(path) > len(best[1])):
            best = (repo_id, path)
    return best


def file_ids(keyer: LineKeyer, repos: Repos, path: str, cwd: str | None) -> tuple[str | None, str]:
    """(repo_id, file_id) of a file an agent wrote; relative paths start at `cwd`.

    file_id is the keyed label of the path relative to its repository, or of the absolute
    path outside every registered repository: the database never sees the path.
    """
    if not posixpath.isabs(path) and cwd:
        path = posixpath.join(cwd, path)
    absolute = normal(path)
    repo = containing(repos, absolute) if posixpath.isabs(absolute) else None
    if repo is None:
        return None, keyer.label(absolute)
    root = repo[1].rstrip("/") or "/"
    return repo[0], keyer.label(posixpath.relpath(absolute, root))


def _text(value: Any) -> str:
    if isinstance(value, list):  # NotebookEdit sources may be a list of lines
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def edit_pairs(name: str, args: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """(file path, (new, old) text pairs) of a Claude Code edit tool's input, else None."""
    path = args.get("notebook_path") if name == "NotebookEdit" else args.get("file_path")
    if name not in CLAUDE_EDIT_TOOLS or not isinstance(path, str) or not path:
        return None
    pairs: list[tuple[str, str]] = []
    if name == "Edit":
        pairs.append((_text(args.get("new_string")), _text(args.get("old_string"))))
    elif name == "MultiEdit":
        for item in args.get("edits") or []:
            if isinstance(item, dict):
                pairs.append((_text(item.get("new_string")), _text(item.get("old_string"))))
    elif name == "Write":
        pairs.append((_text(args.get("content")), ""))
    elif args.get("edit_mode") != "delete":
        pairs.append((_text(args.get("new_source")), ""))
    return path, tuple(pairs)
