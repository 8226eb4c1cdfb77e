"""What each sync does with a repo's git-ai notes, after its commits are attributed.

`read` (the default) reads notes git-ai added or changed; `write` also writes notes for your
commits that have none; `off` does neither. In every mode the note lines already stored (read
at an earlier sync or by `worktally import git-ai`) apply to the commits just attributed.
Reading never changes the repository.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.config import Config
from worktally.client.interop import git_ai_export, git_ai_import
from worktally.client.repos.registry import Repo


def sync_repo(con: duckdb.DuckDBPyConnection, keyer: LineKeyer, repo: Repo, cfg: Config,
              processed_since: dt.datetime) -> tuple[int, int]:
    """Returns (notes read, notes written)."""
    if repo.git_ai_notes == "off":
        git_ai_import.apply_notes(con, repo.repo_id, processed_since)
        return 0, 0
    read = git_ai_import.import_repo(con, keyer, repo, cfg, processed_since)
    written = 0
    if repo.git_ai_notes == "write":
        written = git_ai_export.export_repo(con, keyer, repo).written
    return read.notes, written
