"""AI tools' own logs, read locally: Claude Code transcripts and Codex rollouts.

`run_all` imports whatever is new in the default (and configured) folders; the agent calls
it on every sync and whenever its watcher sees a change under `watch_roots(cfg)`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.config import Config
from worktally.client.importers import locations, reconcile
from worktally.client.importers.context import ImportContext
from worktally.client.importers.locations import watch_roots
from worktally.client.importers.runner import ImportSummary, Progress, import_files
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store.transaction import transaction

__all__ = ["import_tool", "run_all", "watch_roots"]

log = logging.getLogger(__name__)


def import_tool(con: duckdb.DuckDBPyConnection, keyer: LineKeyer, registry: RepoRegistry,
                tool: str, files: list[Path], progress: Progress | None = None) -> ImportSummary:
    """Import new lines of `files` for one tool, then let agent lines explain watcher lines."""
    ctx = ImportContext(keyer=keyer, registry=registry)
    summary = import_files(con, ctx, tool, files, progress)
    # Always, not only when this run found edits: the watcher may have seen the files
    # after an earlier import stored the agent's lines.
    with transaction(con):
        reconcile.convert_external(con)
    return summary


def run_all(con: duckdb.DuckDBPyConnection, keyer: LineKeyer, registry: RepoRegistry,
            cfg: Config) -> dict[str, dict[str, int]]:
    """Import everything new from every enabled tool; returns counts per tool."""
    out: dict[str, dict[str, int]] = {}
    for tool in locations.TOOLS:
        roots = locations.roots_for(tool, cfg)
        if not roots:
            continue
        summary = import_tool(con, keyer, registry, tool, locations.transcript_files(roots))
        out[tool] = summary.counts()
        if summary.usages or summary.edit_ids:
            log.info("imported %s: %d token records, %d sessions, %d edits", tool,
                     len(summary.usages), len(summary.sessions), len(summary.edit_ids))
    return out
