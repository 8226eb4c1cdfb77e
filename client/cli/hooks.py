"""`worktally hook <tool>` (what an AI tool runs after each edit) and `worktally hooks
install|uninstall|status <tool>` (wiring it into the tool's settings).

`hooks install` writes the fast entry point (`python -m worktally.client.importers.hook_entry`)
into the settings, not `worktally hook`: the CLI's start-up would cost the agent more time.
`worktally hook` runs the same code, for trying a payload by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from worktally.client.cli.output import emit, json_option
from worktally.client.importers import hook_entry, hook_install

TOOL = click.Choice(hook_install.TOOLS)


@click.group(name="hook")
def hook_group() -> None:
    """Record an AI tool's edit from its hook's JSON on stdin (always exits 0)."""


def _hook_command(tool: str) -> click.Command:
    @click.command(name=tool, help=f"Read one {tool} hook payload on stdin and spool its edit.")
    def command() -> None:
        sys.exit(hook_entry.main([tool]))

    return command


for _tool in hook_install.TOOLS:
    hook_group.add_command(_hook_command(_tool))


@click.group(name="hooks")
def hooks_group() -> None:
    """Install or remove worktally's hook in Claude Code's or Cursor's settings."""


def _show(change: hook_install.HookChange, as_json: bool) -> None:
    data = {"tool": change.tool, "settings": str(change.settings), "changed": change.changed,
            "detail": change.detail}
    emit(as_json, data, lambda console: console.print(
        f"{change.tool}: {change.detail} ({change.settings})"))


@hooks_group.command(name="install")
@click.argument("tool", type=TOOL)
@click.option("--settings", type=click.Path(path_type=Path),
              help="The settings file to change (default: the tool's own).")
@json_option
def install(tool: str, settings: Path | None, as_json: bool) -> None:
    """Add worktally's hook to TOOL's settings (again: no change)."""
    _show(hook_install.install(tool, settings), as_json)


@hooks_group.command(name="uninstall")
@click.argument("tool", type=TOOL)
@click.option("--settings", type=click.Path(path_type=Path),
              help="The settings file to change (default: where install wrote).")
@json_option
def uninstall(tool: str, settings: Path | None, as_json: bool) -> None:
    """Remove exactly what `hooks install` added to TOOL's settings."""
    _show(hook_install.uninstall(tool, settings), as_json)


@hooks_group.command(name="status")
@json_option
def status(as_json: bool) -> None:
    """Whether worktally's hook is in each tool's settings, and the command it runs."""
    rows = [{"tool": tool, "settings": str(hook_install.settings_path(tool)),
             "installed": hook_install.is_installed(tool),
             "command": hook_install.hook_command(tool)} for tool in hook_install.TOOLS]

    def render(console: Console) -> None:
        for row in rows:
            state = "installed" if row["installed"] else "not installed"
            console.print(f"{row['tool']}: {state} ({row['settings']})")

    emit(as_json, rows, render)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(hook_group)
    group.add_command(hooks_group)
