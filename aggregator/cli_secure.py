"""Secure mode's own command: `vdaf-vectors`, which checks the Prio3 implementation against a
folder of the VDAF draft's test vectors. (Secure cohorts, tasks and tokens are operators'
commands, in `cli_admin.py` and `cli_officer.py`.)"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from worktally.client.wire.vdaf import run_vector_directory


def register(cli: click.Group) -> None:
    """Add `vdaf-vectors` to the `worktally-aggregator` group."""

    @cli.command("vdaf-vectors")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
    def vdaf_vectors(directory: Path) -> None:
        """Check the Prio3 implementation against a folder of the draft's test vectors."""
        passed = failed = 0
        for result in run_vector_directory(directory):
            if result.skipped:
                click.echo(f"skip {result.name}: {result.detail}")
            elif result.passed:
                passed += 1
                click.echo(f"pass {result.name}")
            else:
                failed += 1
                click.echo(f"FAIL {result.name}: {result.detail}")
        click.echo(f"{passed} passed, {failed} failed")
        if failed:
            sys.exit(1)
