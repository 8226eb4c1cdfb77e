"""Commands for neighbouring tools' formats: `worktally import git-ai`, `worktally repos set
--git-ai-notes`, and `worktally trace export` (Agent Trace records of your commits).

Each asks the agent (or, with none running, runs under the agent lock), like `sync`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from worktally.client.agent.access import call
from worktally.client.capture.line_keys import default_keyer
from worktally.client.cli.capture import repos as repos_group
from worktally.client.cli.importing import import_group
from worktally.client.cli.output import emit, json_option
from worktally.client.errors import WorktallyError
from worktally.client.repos.registry import GIT_AI_NOTES_MODES, RepoRegistry, work_tree_root

TIMEOUT_S = 600.0
_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _repo_id(path: Path | None) -> str | None:
    if path is None:
        return None
    return RepoRegistry(default_keyer()).repo_id_for(work_tree_root(path))


@click.command(name="git-ai")
@click.argument("repo", required=False, type=click.Path(exists=True, path_type=Path))
@json_option
def import_git_ai(repo: Path | None, as_json: bool) -> None:
    """Read git-ai's notes (refs/notes/ai) of REPO (default: every watched repo)."""
    result, _ = call({"cmd": "git_ai_import", "repo_id": _repo_id(repo)}, timeout=TIMEOUT_S)

    def render(console: Console) -> None:
        table = Table("repo", "notes read", "AI lines", "human lines", "commits changed",
                      "not yours", "too old", "malformed", box=box.SIMPLE)
        for row in result["repos"]:
            table.add_row(Path(row["path"]).name, str(row["notes"]), str(row["ai_lines"]),
                          str(row["human_lines"]), str(row["commits_changed"]),
                          str(row["not_yours"]), str(row["too_old"]), str(row["malformed"]))
        console.print(table if result["repos"] else
                      "no repos registered; add one with `worktally repos add`")

    emit(as_json, result, render)


@click.command(name="set")
@click.argument("path_or_id")
@click.option("--git-ai-notes", "mode", required=True, type=click.Choice(GIT_AI_NOTES_MODES),
              help="read: apply git-ai's notes at each sync (default); write: also write "
                   "notes for your commits that have none; off: neither.")
@json_option
def repos_set(path_or_id: str, mode: str, as_json: bool) -> None:
    """Set what a sync does with a watched repo's git-ai notes."""
    target = str(Path(path_or_id).resolve()) if Path(path_or_id).exists() else path_or_id
    repo, _ = call({"cmd": "repos_set", "path": target, "git_ai_notes": mode})
    emit(as_json, repo, lambda c: c.print(
        f"{repo['path']}: git-ai notes {repo['git_ai_notes']}"))


@click.group()
def trace() -> None:
    """Agent Trace records of your commits, written to a local file."""


@trace.command(name="export")
@click.option("--repo", "repo_path", type=click.Path(exists=True, path_type=Path),
              help="Only commits of the work tree containing this folder.")
@click.option("--since", type=_DAY, help="Only commits made on or after this day "
              "(YYYY-MM-DD, local time).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the records here (JSON Lines, created 0600); default: stdout.")
@click.option("--content-hashes", is_flag=True,
              help="Add a SHA-256 of each range's text (off by default).")
@json_option
def trace_export(repo_path: Path | None, since: dt.datetime | None, out: Path | None,
                 content_hashes: bool, as_json: bool) -> None:
    """Write one Agent Trace 0.1.0 record per attributed commit (JSON Lines)."""
    if as_json and out is None:
        raise click.UsageError("--json prints a summary, so it needs --out FILE")
    request: dict[str, Any] = {
        "cmd": "trace_export", "repo_id": _repo_id(repo_path),
        "since": since.date().isoformat() if since is not None else None,
        "content_hashes": content_hashes}
    result, _ = call(request, timeout=TIMEOUT_S)
    lines = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                    for r in result["records"])
    if out is None:
        sys.stdout.write(lines)
        return
    _write_out(out, lines.encode("utf-8"))
    summary = {"out": str(out), "records": len(result["records"]), "repos": result["repos"],
               "repo_errors": result["repo_errors"], "content_hashes": content_hashes}
    emit(as_json, summary, lambda c: c.print(
        f"wrote {summary['records']} Agent Trace record(s) to {out}"))


def _write_out(path: Path, data: bytes) -> None:
    """Write the records as a new 0600 file beside `path`, then rename it into place; the
    folder itself is left as it is (it is the user's, not worktally's)."""
    if not path.parent.is_dir():
        raise WorktallyError(f"{path.parent} is not a folder; create it or choose another --out")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def register(group: click.Group) -> None:
    """Add this module's commands to the group (and to its `import` and `repos` groups)."""
    import_group.add_command(import_git_ai)
    repos_group.add_command(repos_set)
    group.add_command(trace)
