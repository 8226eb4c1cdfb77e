"""Commands for neighbouring tools' formats: `worktally import git-ai` and `worktally repos
set --git-ai-notes`.

Each asks the agent (or, with none running, runs under the agent lock), like `sync`.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from worktally.client.agent.access import call
from worktally.client.capture.line_keys import default_keyer
from worktally.client.cli.capture import repos as repos_group
from worktally.client.cli.importing import import_group
from worktally.client.cli.output import emit, json_option
from worktally.client.repos.registry import GIT_AI_NOTES_MODES, RepoRegistry, work_tree_root

TIMEOUT_S = 600.0


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


def register(group: click.Group) -> None:
    """Add this module's commands to the group (to its `import` and `repos` groups)."""
    import_group.add_command(import_git_ai)
    repos_group.add_command(repos_set)
