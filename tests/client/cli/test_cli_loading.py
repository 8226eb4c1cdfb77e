"""The CLI loads a command's module only when that command runs; its table stays complete."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click

from worktally.client.cli import COMMAND_MODULES, SUBCOMMAND_MODULES, cli


def test_the_table_names_every_command_each_module_registers() -> None:
    for module in set(COMMAND_MODULES.values()):
        group = click.Group()
        importlib.import_module(f"worktally.client.cli.{module}").register(group)
        assert set(group.commands) == {n for n, m in COMMAND_MODULES.items() if m == module}
    assert set(cli.commands) == set(COMMAND_MODULES)
    for (group_name, sub), module in SUBCOMMAND_MODULES.items():
        group = cli.commands[group_name]
        assert isinstance(group, click.Group) and sub in group.commands
        assert group.commands[sub].callback.__module__ == f"worktally.client.cli.{module}"


def test_a_subcommand_another_module_adds_loads_on_demand() -> None:
    probe = (
        "import sys, click; from worktally.client.cli import cli; "
        "ctx = click.Context(cli); group = cli.get_command(ctx, 'import'); "
        "before = 'worktally.client.cli.interop' in sys.modules; "
        "sub = group.get_command(ctx, 'git-ai'); "
        "print(before, sub is not None and 'worktally.client.cli.interop' in sys.modules, "
        "'git-ai' in group.list_commands(ctx))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["False", "True", "True"]


def test_import_and_lsp_start_without_the_reporting_stack() -> None:
    probe = (
        "import sys; from worktally.client.cli import cli; "
        "cli.get_command(None, 'import'); cli.get_command(None, 'lsp'); "
        "print(sorted(m for m in ('opendp', 'httpx', 'worktally.client.cli.reporting', "
        "'worktally.client.cli.capture', 'worktally.client.report') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
