"""Import what is new in every enabled tool's logs, or in one tool's files: the entry points
the agent's sync, its live watcher and `worktally import` call."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.config import Config
from worktally.client.importers import locations, reconcile
from worktally.client.importers.context import ImportContext
from worktally.client.importers.locations import default_files
from worktally.client.importers.runner import ImportSummary, Progress, import_files
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store.transaction import transaction

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
        if not locations.enabled(tool, cfg):
            continue
        files = default_files(tool, cfg, registry)
        if not files:
            continue
        summary = import_tool(con, keyer, registry, tool, files)
        counts = out[tool] = summary.counts()
        if counts["token_records"] or counts["edits"]:
            log.info("imported %s: %d token records, %d sessions, %d edits", tool,
                     counts["token_records"], counts["sessions"], counts["edits"])
    return out
