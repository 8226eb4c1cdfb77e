"""The `worktally` command: a click group whose commands live in small modules by concern."""

from __future__ import annotations

import sys

import click

from worktally.client.errors import WorktallyError


class WorktallyGroup(click.Group):
    """Turns WorktallyError into a one-line message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WorktallyError as exc:
            click.echo(f"worktally: {exc}", err=True)
            sys.exit(1)


@click.group(cls=WorktallyGroup)
@click.version_option(package_name="worktally")
def cli() -> None:
    """worktally: how much of your AI use becomes committed code, measured privately."""


def _register_commands() -> None:
    # Each module adds its own commands; the import order is the help order.
    from worktally.client.cli import (
        browser,
        capture,
        demo,
        editor,
        hooks,
        importing,
        interop,
        otlp,
        reporting,
        settings,
    )

    for module in (capture, importing, interop, hooks, otlp, reporting, browser, editor,
                   settings, demo):
        module.register(cli)


_register_commands()


def main() -> None:
    cli(prog_name="worktally")
