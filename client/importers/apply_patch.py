"""Codex's `apply_patch` envelope: find a patch in a tool call and list the lines it adds.

Only `*** Add File:` and `*** Update File:` sections count, and only their `+` lines: a
`*** Move to:` renames the target, and context or removed lines were not written by the agent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from worktally.client.capture.line_keys import lines_of

BEGIN = "*** Begin Patch"
END = "*** End Patch"
_ADD = "*** Add File: "
_UPDATE = "*** Update File: "
_DELETE = "*** Delete File: "
_MOVE = "*** Move to: "
# The heredoc form of the shell tool: apply_patch <<'PATCH' ... PATCH (any quoting, any tag).
_HEREDOC = re.compile(r"apply_patch\s*<<\s*['\"]?(\w+)['\"]?\s*\n(.*?)\n\1\b", re.DOTALL)


@dataclass(frozen=True)
class PatchedFile:
    """One file a patch writes: its path as written in the patch and the lines it adds."""

    path: str
    added: tuple[str, ...]


def parse_patch(text: str) -> list[PatchedFile]:
    """The files a patch adds or updates, with their `+` lines (files in patch order)."""
    order: list[str] = []
    added: dict[str, list[str]] = {}
    current: str | None = None
    in_patch = BEGIN not in text  # a bare body without the envelope is accepted too
    # Split as git does (lines_of): a form feed or U+2028 stays inside its line.
    for raw in lines_of(text):
        line = raw.rstrip("\r")
        if line.startswith(BEGIN):
            in_patch = True
            continue
        if not in_patch:
            continue
        if line.startswith(END):
            in_patch = False
            current = None
            continue
        if line.startswith(_ADD) or line.startswith(_UPDATE):
            prefix = _ADD if line.startswith(_ADD) else _UPDATE
            current = line[len(prefix):].strip()
            if current not in added:
                order.append(current)
                added[current] = []
            continue
        if line.startswith(_MOVE) and current is not None:
            target = line[len(_MOVE):].strip()
            lines = added.pop(current)
            order[order.index(current)] = target
            added[target] = added.get(target, []) + lines
            current = target
            continue
        if line.startswith(_DELETE):
            current = None
            continue
        if current is not None and line.startswith("+"):
            added[current].append(line[1:])
    return [PatchedFile(path=p, added=tuple(added[p])) for p in order]


def patch_from_shell(arguments: Any) -> tuple[str, str | None] | None:
    """(patch text, workdir) of a `shell` call that runs apply_patch, else None.

    `arguments` is the call's JSON string (or its decoded object); the command is a list
    such as ["bash", "-lc", "apply_patch <<'PATCH' ..."] or ["apply_patch", "<patch>"].
    """
    args = arguments
    if isinstance(arguments, str):
        if "apply_patch" not in arguments:
            return None
        try:
            args = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(args, dict):
        return None
    command = args.get("command")
    workdir = args.get("workdir")
    workdir = workdir if isinstance(workdir, str) else None
    raw_parts = command if isinstance(command, list) else [command]
    parts: list[str] = [p for p in raw_parts if isinstance(p, str)]
    for index, part in enumerate(parts):
        if part == "apply_patch" and index + 1 < len(parts):
            return parts[index + 1], workdir
        match = _HEREDOC.search(part)
        if match:
            return match.group(2), workdir
    return None


def output_failed(output: Any) -> bool:
    """Whether a tool call's output says the patch was not applied."""
    text = output
    if isinstance(output, list):
        text = "".join(
            b.get("text", "") for b in output if isinstance(b, dict)
        )
    if not isinstance(text, str):
        return False
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            meta = doc.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("exit_code"), int):
                return bool(meta["exit_code"] != 0)
            inner = doc.get("output")
            if isinstance(inner, str):
                stripped = inner.lstrip()
    return stripped[:6].lower() == "error:" or stripped.startswith(
        "apply_patch verification failed"
    )
