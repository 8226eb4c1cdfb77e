"""The CLI loads a command's module only when that command runs; its table stays complete."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click

from worktally.client.cli import COMMAND_MODULES, cli


def test_the_table_names_every_command_each_module_registers() -> None:
    for module in set(COMMAND_MODULES.values()):
        group = click.Group()
        importlib.import_module(f"worktally.client.cli.{module}").register(group)
        assert set(group.commands) == {n for n, m in COMMAND_MODULES.items() if m == module}
    assert set(cli.commands) == set(COMMAND_MODULES)


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
