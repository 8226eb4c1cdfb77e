"""`worktally config list|get|set|unset`: the settings in $WORKTALLY_HOME/config.toml, one key
at a time. Parsing and checking values is `worktally.client.config`'s job; this is the shell.
"""

from __future__ import annotations

from typing import Any

import click

from worktally.client import config
from worktally.client.cli.output import echo_json, json_option


def _row(cfg: config.Config, spec: config.Key) -> dict[str, Any]:
    value = config.get_value(cfg, spec.dotted)
    return {"key": spec.dotted, "value": value, "default": spec.default,
            "is_default": value == spec.default, "type": spec.kind}


def _echo_change(change: config.Change, as_json: bool, note: str, unchanged: str) -> None:
    if as_json:
        echo_json({"key": change.key, "old": change.old, "new": change.new,
                    "changed": change.changed})
    elif change.new is None:  # `unset` removed a key this version does not know
        click.echo(f"{change.key}: {config.toml_value(change.old)} -> removed")
    elif change.changed:
        old, new = config.toml_value(change.old), config.toml_value(change.new)
        click.echo(f"{change.key}: {old} -> {new}{note}")
    else:
        click.echo(f"{change.key}: {config.toml_value(change.new)} ({unchanged})")


@click.group("config")
def config_group() -> None:
    """Show and change settings (see docs/configuration.md for every key)."""


@config_group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Every key with its effective value, and whether that is the default."""
    cfg = config.load()
    rows = [_row(cfg, spec) for spec in config.keys().values()]
    if as_json:
        echo_json(rows)
        return
    width = max(len(row["key"]) for row in rows)
    for row in rows:
        default = "default" if row["is_default"] else f"default {config.toml_value(row['default'])}"
        click.echo(f"{row['key']:<{width}} = {config.toml_value(row['value'])}  ({default})")


@config_group.command("get")
@click.argument("key")
@json_option
def get_command(key: str, as_json: bool) -> None:
    """Print one key's effective value (as written in config.toml)."""
    spec = config.lookup(key)
    row = _row(config.load(), spec)
    if as_json:
        echo_json(row)
    else:
        click.echo(config.toml_value(row["value"]))


# A VALUE such as -1 must reach the checks (and be refused there), not be read as an option.
@config_group.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@json_option
def set_command(key: str, value: str, as_json: bool) -> None:
    """Check VALUE against KEY's type and rule, write it to config.toml (0600), show the change.

    Booleans are true or false; a list is comma-separated, or a TOML array.
    """
    change = config.set_value(key, config.parse_value(key, value))
    _echo_change(change, as_json, note="", unchanged="unchanged")


@config_group.command("unset")
@click.argument("key")
@json_option
def unset_command(key: str, as_json: bool) -> None:
    """Remove KEY from config.toml, so its default applies again."""
    change = config.unset_value(key)
    _echo_change(change, as_json, note=" (the default)", unchanged="already the default")


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(config_group)
