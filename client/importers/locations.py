"""Where each AI tool keeps its logs: its home (honouring the tool's own environment
variable, and ccusage's where it has one), the configured extra folders, and which files
under them are logs.

`roots(tool, cfg)` is the folders (or single files) to read; `files(tool, roots)` the log
files below them; `root_of(tool, path)` what a path given by hand means (a tool's home reads
its log folders, anything else is read as is).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from worktally.client.config import Config

if TYPE_CHECKING:
    from worktally.client.repos.registry import RepoRegistry

CLAUDE_ENV = "CLAUDE_CONFIG_DIR"
CODEX_ENV = "CODEX_HOME"
# Aider writes its chat history in the repository it runs in.
AIDER_HISTORY = ".aider.chat.history.md"


def _env_list(name: str) -> list[Path]:
    """A comma-separated list of folders in an environment variable (ccusage's convention)."""
    raw = os.environ.get(name, "")
    return [Path(p.strip()).expanduser() for p in raw.split(",") if p.strip()]


def _env_path(name: str) -> Path | None:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


def _extra(dirs: Sequence[str]) -> list[Path]:
    return [Path(p).expanduser() for p in dirs]


def _existing(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.exists() and p not in out:
            out.append(p)
    return out


def _xdg_data() -> Path:
    return _env_path("XDG_DATA_HOME") or Path.home() / ".local" / "share"


# --- Claude Code: $CLAUDE_CONFIG_DIR (a list), else ~/.config/claude and ~/.claude -----------

def _claude_root(entry: Path) -> Path:
    projects = entry / "projects"
    return projects if projects.is_dir() else entry


def claude_roots(cfg: Config) -> list[Path]:
    entries = _env_list(CLAUDE_ENV)
    if not entries:
        home = Path.home()
        entries = [home / ".config" / "claude", home / ".claude"]
    entries += _extra(cfg.importers.claude_dirs)
    return _existing(_claude_root(e) for e in entries)


# --- Codex: $CODEX_HOME (default ~/.codex), its sessions/ and archived_sessions/ ------------

def _codex_roots_of(home: Path) -> list[Path]:
    found = [home / "sessions", home / "archived_sessions"]
    return [p for p in found if p.is_dir()] or [home]


def codex_roots(cfg: Config) -> list[Path]:
    home = _env_path(CODEX_ENV) or Path.home() / ".codex"
    roots = [p for p in _codex_roots_of(home) if p != home] if home.is_dir() else []
    for extra in _extra(cfg.importers.codex_dirs):
        roots += _codex_roots_of(extra)
    return _existing(roots)


# --- Gemini CLI: $GEMINI_DATA_DIR (ccusage: a list of tmp/ folders), else
# $GEMINI_CLI_HOME/.gemini/tmp (the CLI's own override of the home folder), else ~/.gemini/tmp

def _gemini_root(entry: Path) -> Path:
    for sub in (entry / ".gemini" / "tmp", entry / "tmp"):
        if sub.is_dir():
            return sub
    return entry


def gemini_roots(cfg: Config) -> list[Path]:
    entries = _env_list("GEMINI_DATA_DIR")
    if not entries:
        home = _env_path("GEMINI_CLI_HOME") or Path.home()
        entries = [home / ".gemini" / "tmp"]
    return _existing(_gemini_root(e) for e in [*entries, *_extra(cfg.importers.gemini_dirs)])


# --- opencode: $OPENCODE_DATA_DIR (a list), else $XDG_DATA_HOME/opencode ---------------------

def opencode_roots(cfg: Config) -> list[Path]:
    entries = _env_list("OPENCODE_DATA_DIR") or [_xdg_data() / "opencode"]
    return _existing([*entries, *_extra(cfg.importers.opencode_dirs)])


# --- GitHub Copilot CLI: ~/.copilot (or $COPILOT_HOME) session-state/ and otel/, and the
# file $COPILOT_OTEL_FILE_EXPORTER_PATH names -------------------------------------------------

def _copilot_roots_of(home: Path) -> list[Path]:
    found = [home / "session-state", home / "otel"]
    return [p for p in found if p.exists()] or [home]


def copilot_roots(cfg: Config) -> list[Path]:
    home = _env_path("COPILOT_HOME") or Path.home() / ".copilot"
    roots = [p for p in _copilot_roots_of(home) if p != home] if home.is_dir() else []
    exporter = _env_path("COPILOT_OTEL_FILE_EXPORTER_PATH")
    if exporter is not None and exporter.is_file():
        roots.append(exporter)
    for extra in _extra(cfg.importers.copilot_dirs):
        roots += _copilot_roots_of(extra)
    return _existing(roots)


# --- Amp: $AMP_DATA_DIR (a list), else ~/.local/share/amp; its threads/ ---------------------

def _amp_root(entry: Path) -> Path:
    threads = entry / "threads"
    return threads if threads.is_dir() else entry


def amp_roots(cfg: Config) -> list[Path]:
    entries = _env_list("AMP_DATA_DIR") or [_xdg_data() / "amp"]
    return _existing(_amp_root(e) for e in [*entries, *_extra(cfg.importers.amp_dirs)])


# --- Droid (Factory): $DROID_SESSIONS_DIR (a list), else ~/.factory/sessions ----------------

def _droid_root(entry: Path) -> Path:
    sessions = entry / "sessions"
    return sessions if sessions.is_dir() else entry


def droid_roots(cfg: Config) -> list[Path]:
    entries = _env_list("DROID_SESSIONS_DIR") or [Path.home() / ".factory" / "sessions"]
    return _existing(_droid_root(e) for e in [*entries, *_extra(cfg.importers.droid_dirs)])


# --- Qwen Code: $QWEN_DATA_DIR (ccusage: a list), else $QWEN_RUNTIME_DIR, $QWEN_HOME, ~/.qwen;
# its projects/ ---------------------------------------------------------------------------

def _qwen_root(entry: Path) -> Path:
    projects = entry / "projects"
    return projects if projects.is_dir() else entry


def qwen_roots(cfg: Config) -> list[Path]:
    entries = _env_list("QWEN_DATA_DIR")
    if not entries:
        home = _env_path("QWEN_RUNTIME_DIR") or _env_path("QWEN_HOME")
        entries = [home or Path.home() / ".qwen"]
    return _existing(_qwen_root(e) for e in [*entries, *_extra(cfg.importers.qwen_dirs)])


# --- Aider: its analytics log ($AIDER_ANALYTICS_LOG, else ~/.aider/analytics.jsonl) and the
# chat history in each registered repository ---------------------------------------------

def aider_roots(cfg: Config, repos: Sequence[Path] = ()) -> list[Path]:
    log = _env_path("AIDER_ANALYTICS_LOG") or Path.home() / ".aider" / "analytics.jsonl"
    history = os.environ.get("AIDER_CHAT_HISTORY_FILE", "").strip() or AIDER_HISTORY
    histories = [Path(history).expanduser()] if os.path.isabs(history) else [
        repo / history for repo in repos
    ]
    return _existing([log, *histories, *_extra(cfg.importers.aider_dirs)])


# --- the table ------------------------------------------------------------------------------

_ROOTS: dict[str, Callable[[Config], list[Path]]] = {
    "claude-code": claude_roots, "codex": codex_roots, "gemini-cli": gemini_roots,
    "opencode": opencode_roots, "copilot-cli": copilot_roots, "amp": amp_roots,
    "droid": droid_roots, "qwen-code": qwen_roots,
}
_BY_HAND: dict[str, Callable[[Path], list[Path]]] = {
    "claude-code": lambda p: [_claude_root(p)], "codex": _codex_roots_of,
    "gemini-cli": lambda p: [_gemini_root(p)], "opencode": lambda p: [p],
    "copilot-cli": _copilot_roots_of, "amp": lambda p: [_amp_root(p)],
    "droid": lambda p: [_droid_root(p)], "qwen-code": lambda p: [_qwen_root(p)],
    "aider": lambda p: [p],
}
TOOLS = tuple(_BY_HAND)
_ENABLED_KEY = {tool: tool.replace("-", "_") for tool in TOOLS}


def enabled(tool: str, cfg: Config) -> bool:
    return bool(getattr(cfg.importers, _ENABLED_KEY[tool]))


def roots_for(tool: str, cfg: Config, repos: Sequence[Path] = ()) -> list[Path]:
    """The enabled tool's default and configured roots (none when it is switched off)."""
    if tool not in _BY_HAND:
        raise ValueError(f"unknown tool {tool!r}")
    if not enabled(tool, cfg):
        return []
    return aider_roots(cfg, repos) if tool == "aider" else _ROOTS[tool](cfg)


def tool_root(tool: str, path: Path) -> list[Path]:
    """The log folders of a path given by hand; a single file is read as is."""
    if path.is_file():
        return [path]
    return _BY_HAND[tool](path)


def default_files(tool: str, cfg: Config, registry: RepoRegistry) -> list[Path]:
    """The enabled tool's log files in its default and configured locations."""
    repos = [Path(repo.path) for repo in registry.list()] if tool == "aider" else []
    return log_files(tool, roots_for(tool, cfg, repos))


def log_files(tool: str, roots: list[Path]) -> list[Path]:
    """The tool's log files under its roots, each once (a root may be a single file)."""
    # Deferred: the tool table imports every parser; only a listing needs it here.
    from worktally.client.importers.tools import spec

    tool_spec = spec(tool)
    return find_files(roots, tool_spec.patterns, tool_spec.wanted)


def watch_roots(cfg: Config) -> list[Path]:
    """Folders the agent may watch; a change under one means `run_all` has work to do.

    Only folders: a root that is a single file (Aider's analytics log, a Copilot exporter
    file) may sit in a busy folder such as /tmp, so it waits for the periodic sync.
    """
    return [root for tool in TOOLS for root in roots_for(tool, cfg) if root.is_dir()]


def find_files(roots: Iterable[Path], patterns: Sequence[str],
               wanted: Callable[[Path], bool] | None = None) -> list[Path]:
    """Files under the roots matching one of the glob `patterns` (and `wanted`), each once.

    A root given as a single file is read whatever its name: the user named it.
    """
    seen: set[str] = set()
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            real = os.path.realpath(root)
            if real not in seen:
                seen.add(real)
                out.append(root)
            continue
        found = _matching(root, patterns)
        if not found:
            continue
        real_root = str(root.resolve())
        cut = len(str(root))
        for path in sorted(found):
            if wanted is not None and not wanted(path):
                continue
            real_path = _real_path(path, found[path], real_root, cut)
            if real_path is not None and real_path not in seen:
                seen.add(real_path)
                out.append(path)
    return out


def _matching(root: Path, patterns: Sequence[str]) -> dict[Path, bool]:
    """What root.rglob(pattern) finds for any of `patterns`, each path with whether it is a
    regular file itself (not a link): entries at any depth whose name matches, walking
    every folder but never into a linked one, unreadable folders skipped."""
    matchers = [re.compile(fnmatch.translate(pattern)).fullmatch for pattern in patterns]
    found: dict[Path, bool] = {}
    folders = [str(root)]
    while folders:
        try:
            with os.scandir(folders.pop()) as scan:
                entries = list(scan)
        except OSError:
            continue
        for entry in entries:
            try:
                plain_file = entry.is_file(follow_symlinks=False)
                walk_into = not plain_file and entry.is_dir(follow_symlinks=False)
            except OSError:
                plain_file = walk_into = False
            if any(match(entry.name) for match in matchers):
                found[Path(entry.path)] = plain_file
            if walk_into:
                folders.append(entry.path)
    return found


def _real_path(path: Path, plain_file: bool, real_root: str, cut: int) -> str | None:
    """path.resolve() as text if `path` is a regular file (through a link or not), else None.

    The walk never enters a linked folder, so below the root only the file itself can be a
    link: a plain file's real path is the root's plus its relative part, with no lookups.
    """
    if plain_file:
        return real_root + str(path)[cut:]
    if not path.is_file():
        return None
    return str(path.resolve())


def transcript_files(roots: Iterable[Path]) -> list[Path]:
    """Every `*.jsonl` under the roots (a root may also be a single file), each once."""
    return find_files(roots, ("*.jsonl",))
