"""`worktally hooks install|uninstall claude-code|cursor`: add worktally's hook to the tool's
settings, and later take exactly that back out.

Claude Code: `hooks.PostToolUse` in `$CLAUDE_CONFIG_DIR/settings.json` (else
`~/.claude/settings.json`), matched to its edit tools. Cursor: `afterFileEdit` and
`afterTabFileEdit` in `~/.cursor/hooks.json`. The command runs this interpreter on
`hook_entry.py` with this worktally home, so it needs no PATH and no start-up of the CLI.

What install found and wrote is remembered in `$WORKTALLY_HOME/hooks/<tool>.json`. Uninstall
puts the original bytes back when the file is still exactly as install left it; when the user
changed it since, only worktally's entries (and containers install created) are removed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worktally.client import paths
from worktally.client.errors import WorktallyError

HOOK_MODULE = "worktally.client.importers.hook_entry"
TOOLS = ("claude-code", "cursor")
CLAUDE_MATCHER = "Edit|MultiEdit|Write|NotebookEdit"
# Seconds Claude Code gives a hook before it gives up on it (ours returns in milliseconds).
CLAUDE_TIMEOUT_S = 10
CURSOR_EVENTS = ("afterFileEdit", "afterTabFileEdit")


@dataclass(frozen=True)
class HookChange:
    tool: str
    settings: Path
    changed: bool
    detail: str


def hook_command(tool: str) -> str:
    """The shell command the tool runs: this Python, this worktally home, the hook entry."""
    home = shlex.quote(str(paths.home()))
    return f"WORKTALLY_HOME={home} {shlex.quote(sys.executable)} -m {HOOK_MODULE} {tool}"


def settings_path(tool: str) -> Path:
    if tool == "claude-code":
        first = os.environ.get("CLAUDE_CONFIG_DIR", "").split(",")[0].strip()
        base = Path(first).expanduser() if first else Path.home() / ".claude"
        return base / "settings.json"
    if tool == "cursor":
        return Path.home() / ".cursor" / "hooks.json"
    raise WorktallyError(f"no hook for {tool!r}; choose one of {', '.join(TOOLS)}")


def _state_path(tool: str) -> Path:
    return paths.ensure_private_dir(paths.home() / "hooks") / f"{tool}.json"


def _ours(entry: Any) -> bool:
    return isinstance(entry, dict) and HOOK_MODULE in str(entry.get("command", ""))


def _indent(raw: bytes | None) -> int | str:
    """The indentation the file already uses (two spaces when it has none to copy)."""
    match = re.search(rb"\n([ \t]+)\"", raw or b"")
    if match is None:
        return 2
    unit = match.group(1).decode()
    return "\t" if unit.startswith("\t") else len(unit)


def _load(path: Path) -> tuple[bytes | None, dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, {}
    except OSError as exc:
        raise WorktallyError(f"cannot read {path}: {exc.strerror}") from exc
    if not raw.strip():
        return raw, {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise WorktallyError(f"{path} is not valid JSON ({exc}); fix it, then retry") from exc
    if not isinstance(doc, dict):
        raise WorktallyError(f"{path} does not hold a JSON object; fix it, then retry")
    return raw, doc


def _dump(doc: dict[str, Any], like: bytes | None) -> bytes:
    text = json.dumps(doc, indent=_indent(like), ensure_ascii=False)
    return (text + "\n").encode()


def _write(path: Path, data: bytes) -> None:
    """Replace the file atomically, keeping its mode (settings files are the user's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp = path.with_name(f".{path.name}.worktally.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _add(tool: str, doc: dict[str, Any], command: str) -> list[str]:
    """Add the hook to `doc`; returns the containers it had to create."""
    created: list[str] = []
    if not isinstance(doc.get("hooks"), dict):
        doc["hooks"] = {}
        created.append("hooks")
    hooks = doc["hooks"]
    if tool == "claude-code":
        events = {"PostToolUse": {"matcher": CLAUDE_MATCHER, "hooks": [
            {"type": "command", "command": command, "timeout": CLAUDE_TIMEOUT_S}]}}
    else:
        doc.setdefault("version", 1)
        events = {event: {"command": command} for event in CURSOR_EVENTS}
    for event, entry in events.items():
        if not isinstance(hooks.get(event), list):
            hooks[event] = []
            created.append(event)
        hooks[event].append(entry)
    return created


def _installed(tool: str, doc: dict[str, Any]) -> bool:
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict):
        return False
    for event in ("PostToolUse",) if tool == "claude-code" else CURSOR_EVENTS:
        for entry in hooks.get(event) or []:
            inner = entry.get("hooks") if isinstance(entry, dict) else None
            if _ours(entry) or any(_ours(h) for h in inner or []):
                return True
    return False


def _remove(tool: str, doc: dict[str, Any], created: list[str]) -> int:
    """Remove worktally's entries (and containers install created, once empty)."""
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict):
        return 0
    removed = 0
    for event in ("PostToolUse",) if tool == "claude-code" else CURSOR_EVENTS:
        kept = []
        for entry in hooks.get(event) or []:
            inner = entry.get("hooks") if isinstance(entry, dict) else None
            if _ours(entry):
                removed += 1
                continue
            if isinstance(inner, list) and any(_ours(h) for h in inner):
                rest = [h for h in inner if not _ours(h)]
                removed += len(inner) - len(rest)
                if not rest:
                    continue  # a matcher group of ours alone
                entry = {**entry, "hooks": rest}
            kept.append(entry)
        if event in hooks:
            hooks[event] = kept
            if not kept and event in created:
                del hooks[event]
    if not hooks and "hooks" in created:
        del doc["hooks"]
    return removed


def install(tool: str, settings: Path | None = None) -> HookChange:
    path = settings or settings_path(tool)
    raw, doc = _load(path)
    if _installed(tool, doc):
        return HookChange(tool, path, False, "already installed")
    original = copy.deepcopy(doc)
    had_version = "version" in original
    created = _add(tool, doc, hook_command(tool))
    if tool == "cursor" and not had_version:
        created.append("version")
    data = _dump(doc, raw)
    _write(path, data)
    state = {"settings": str(path), "written_sha256": _sha(data), "created": created,
             "original": None if raw is None else base64.b64encode(raw).decode()}
    paths.write_private(_state_path(tool), json.dumps(state).encode())
    return HookChange(tool, path, True, "installed")


def uninstall(tool: str, settings: Path | None = None) -> HookChange:
    state_file = _state_path(tool)
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        state = {}
    path = settings or Path(state.get("settings") or settings_path(tool))
    raw, doc = _load(path)
    if raw is not None and state.get("written_sha256") == _sha(raw):
        # Untouched since install: the user's own bytes go back exactly.
        if state.get("original") is None:
            path.unlink()
        else:
            _write(path, base64.b64decode(state["original"]))
        state_file.unlink(missing_ok=True)
        return HookChange(tool, path, True, "restored the file as it was before install")
    created = list(state.get("created") or [])
    removed = _remove(tool, doc, created)
    if tool == "cursor" and "version" in created and not doc.get("hooks"):
        doc.pop("version", None)
    state_file.unlink(missing_ok=True)
    if not removed:
        return HookChange(tool, path, False, "not installed")
    _write(path, _dump(doc, raw))
    return HookChange(tool, path, True, f"removed {removed} worktally hook entr"
                      + ("y" if removed == 1 else "ies"))


def is_installed(tool: str, settings: Path | None = None) -> bool:
    """Whether the settings file holds worktally's hook (an unreadable file: no)."""
    try:
        _, doc = _load(settings or settings_path(tool))
    except WorktallyError:
        return False
    return _installed(tool, doc)
