"""Options and output shared by every `worktally` command: `--json` and how results print.

JSON output is a contract for scripts and tests (stable, sorted keys); the human form is
rendered with rich.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def emit(as_json: bool, data: Any, render: Callable[[Console], None]) -> None:
    """Print `data` as JSON, or let `render` draw it for a person."""
    if as_json:
        echo_json(data)
    else:
        render(Console())
