"""AI tools' own logs, read locally: Claude Code, Codex, Gemini CLI, opencode, GitHub Copilot
CLI, Amp, Droid, Qwen Code and Aider.

`run_all` imports whatever is new in the default (and configured) locations; the agent calls
it on every sync and whenever its watcher sees a change under `watch_roots(cfg)`. The names
are loaded on first use: the hook entry point lives in this package and must start without
DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worktally.client.importers.locations import watch_roots
    from worktally.client.importers.run import import_tool, run_all

__all__ = ["import_tool", "run_all", "watch_roots"]


def __getattr__(name: str) -> Any:
    if name in ("import_tool", "run_all"):
        from worktally.client.importers import run

        return getattr(run, name)
    if name == "watch_roots":
        from worktally.client.importers import locations

        return locations.watch_roots
    # A submodule named as an attribute (`importers.reconcile`) is imported on first use.
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise  # the submodule exists but something it imports is missing
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
