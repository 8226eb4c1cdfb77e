"""Commands of the `worktally` CLI for editors: `worktally lsp`, the language server."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("lsp")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write logs to this file (0600) instead of stderr.")
@click.option("-v", "--verbose", count=True,
              help="More logging: -v for info, -vv for debug (debug includes protocol traffic).")
def lsp_command(log_file: Path | None, verbose: int) -> None:
    """Run the worktally language server over stdio (started by your editor)."""
    # Imported here so other commands do not pay for loading pygls.
    from worktally.lsp.launch import serve

    serve(log_file, verbose)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(lsp_command)
