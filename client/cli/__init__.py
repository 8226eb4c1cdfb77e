"""The `worktally` command: a click group whose commands live in small modules by concern.

A command's module is imported only when that command runs (or when help or the docs test
lists them all): `worktally import` and `worktally lsp` then start without the reporting
and browser stacks, which cost most of a second of imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import MutableMapping
from typing import Any

import click

from worktally.client.errors import WorktallyError

# Each top-level command and the module (under worktally.client.cli) that registers it.
# tests/client/cli/test_cli_loading.py checks this table against what the modules register.
COMMAND_MODULES: dict[str, str] = {
    "status": "capture", "repos": "capture", "pause": "capture", "resume": "capture",
    "commits": "capture", "me": "capture", "forget": "capture", "agent": "capture",
    "sync": "capture", "import": "importing", "hook": "hooks", "hooks": "hooks",
    "enroll": "reporting", "report": "reporting", "browser": "browser", "lsp": "editor",
    "config": "settings", "demo": "demo", "trace": "interop", "otlp": "otlp",
}
# Subcommands a module adds to another module's group: (group, subcommand) -> that module,
# loaded when the subcommand is asked for (so `import claude-code` never loads interop).
SUBCOMMAND_MODULES: dict[tuple[str, str], str] = {
    ("import", "git-ai"): "interop", ("repos", "set"): "interop",
}


class WorktallyGroup(click.Group):
    """Loads a command's module on first use; turns WorktallyError into a one-line message
    and exit code 1, never a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._commands: dict[str, click.Command] = {}
        self._loaded: set[str] = set()
        super().__init__(*args, **kwargs)

    @property
    def commands(self) -> MutableMapping[str, click.Command]:
        """Every command, each module loaded (what help and the docs tests walk)."""
        for module in dict.fromkeys(COMMAND_MODULES.values()):
            self._load(module)
        return self._commands

    @commands.setter
    def commands(self, value: MutableMapping[str, click.Command]) -> None:
        self._commands = dict(value)

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            importlib.import_module(f"worktally.client.cli.{module}").register(self)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._commands[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None:
            self._load(module)
        return self._commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self._commands})

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WorktallyError as exc:
            click.echo(f"worktally: {exc}", err=True)
            sys.exit(1)


class SubcommandGroup(click.Group):
    """A group some of whose subcommands another module adds (SUBCOMMAND_MODULES)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = SUBCOMMAND_MODULES.get((self.name or "", cmd_name))
        if module is not None:
            cli._load(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = [sub for group, sub in SUBCOMMAND_MODULES if group == self.name]
        return sorted({*super().list_commands(ctx), *extra})


@click.group(cls=WorktallyGroup)
@click.version_option(package_name="worktally")
def cli() -> None:
    """worktally: how much of your AI use becomes committed code, measured privately."""


def main() -> None:
    cli(prog_name="worktally")
