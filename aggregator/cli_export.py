"""`worktally-aggregator export`: the released figures as CSV or Parquet files partitioned by
window (`export.py`). Like the other offline commands it opens the data directory itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from worktally.aggregator.export import FORMATS, export_releases
from worktally.aggregator.provisioning import open_store
from worktally.aggregator.releases import list_releases
from worktally.aggregator.settings import DataDir

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def register(cli: click.Group, data_option: Decorator, json_option: Decorator) -> None:
    """Add `export` to the `worktally-aggregator` group."""

    @cli.command("export")
    @data_option
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="parquet",
                  show_default=True, help="File format of the export.")
    @click.option("--out", "out", required=True,
                  type=click.Path(file_okay=False, path_type=Path),
                  help="Folder to write into (created 0700 if missing; an existing one is "
                       "used as it is). Files are window=LABEL/part-0.FORMAT, 0600.")
    @json_option
    def export(data: Path, fmt: str, out: Path, as_json: bool) -> None:
        """Export released figures only (never shares, receipts or tokens): one row per
        window, cohort and metric, in files partitioned by window."""
        store = open_store(DataDir(data))
        try:
            releases = list_releases(store)
        finally:
            store.close()
        done = export_releases(releases, fmt, out)
        files = [str(f.relative_to(out)) for f in done.files]
        if as_json:
            click.echo(json.dumps({"format": fmt, "rows": done.rows, "windows": done.windows,
                                   "files": files}, indent=2))
        elif not done.rows:
            click.echo("Nothing is released yet; no files written.")
        else:
            click.echo(f"Exported {done.rows} figures in {len(done.windows)} window(s) as "
                       f"{fmt}: {', '.join(files)}")
