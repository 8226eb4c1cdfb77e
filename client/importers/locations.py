"""Where Claude Code and Codex keep their transcripts, as ccusage finds them, plus config.

Claude Code: `$CLAUDE_CONFIG_DIR` (a comma-separated list; each entry may be the config dir
or its `projects/` dir), else `~/.config/claude/projects` and `~/.claude/projects`.
Codex: `$CODEX_HOME` (default `~/.codex`), its `sessions/` and `archived_sessions/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from worktally.client.config import Config

CLAUDE_ENV = "CLAUDE_CONFIG_DIR"
CODEX_ENV = "CODEX_HOME"
TOOLS = ("claude-code", "codex")


def tool_root(tool: str, path: Path) -> list[Path]:
    """The transcript folders of a path given by hand: a tool's home means its log folders.

    So `~/.claude` reads `projects/` (not the prompt history next to it) and `~/.codex`
    reads `sessions/` and `archived_sessions/`; any other file or folder is read as is.
    """
    if path.is_file():
        return [path]
    return [_claude_root(path)] if tool == "claude-code" else _codex_roots_of(path)


def _claude_root(entry: Path) -> Path:
    projects = entry / "projects"
    return projects if projects.is_dir() else entry


def claude_roots(cfg: Config) -> list[Path]:
    configured = os.environ.get(CLAUDE_ENV, "")
    entries = [Path(p.strip()).expanduser() for p in configured.split(",") if p.strip()]
    if not entries:
        home = Path.home()
        entries = [home / ".config" / "claude", home / ".claude"]
    entries += [Path(p).expanduser() for p in cfg.importers.claude_dirs]
    return _existing(_claude_root(e) for e in entries)


def _codex_roots_of(home: Path) -> list[Path]:
    found = [home / "sessions", home / "archived_sessions"]
    return [p for p in found if p.is_dir()] or [home]


def codex_roots(cfg: Config) -> list[Path]:
    configured = os.environ.get(CODEX_ENV, "").strip()
    home = Path(configured).expanduser() if configured else Path.home() / ".codex"
    roots = [p for p in _codex_roots_of(home) if p != home] if home.is_dir() else []
    for extra in cfg.importers.codex_dirs:
        roots += _codex_roots_of(Path(extra).expanduser())
    return _existing(roots)


def roots_for(tool: str, cfg: Config) -> list[Path]:
    if tool == "claude-code":
        return claude_roots(cfg) if cfg.importers.claude_code else []
    if tool == "codex":
        return codex_roots(cfg) if cfg.importers.codex else []
    raise ValueError(f"unknown tool {tool!r}")


def watch_roots(cfg: Config) -> list[Path]:
    """Folders the agent may watch; a change under one means `run_all` has work to do."""
    return [root for tool in TOOLS for root in roots_for(tool, cfg)]


def transcript_files(roots: Iterable[Path]) -> list[Path]:
    """Every `*.jsonl` under the roots (a root may also be a single file), each once."""
    seen: set[Path] = set()
    out: list[Path] = []
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*.jsonl"))
        for path in candidates:
            real = path.resolve()
            if real not in seen and path.is_file():
                seen.add(real)
                out.append(path)
    return out


def _existing(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.exists() and p not in out:
            out.append(p)
    return out
