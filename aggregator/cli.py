"""The `worktally-aggregator` command: set up a deployment, serve it, and act on it.

`init` and `serve` work on a data dir. Every operator action (`cli_admin.py`: cohorts, tokens,
clients, windows, releases, the summary; `cli_officer.py`: the officer's review, holds and
audit log, a helper's task and batches) runs against a running server with `--url URL
--token-file FILE` before the command, or on a stopped server's data dir with the command's
`--data DIR` (DuckDB lets only one process hold the file); `cli_backends.py` picks the way.
`dashboard` is written offline.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from worktally.aggregator import cli_admin, cli_officer, cli_secure, clock
from worktally.aggregator.cli_admin import data_option as optional_data
from worktally.aggregator.cli_admin import emit, run
from worktally.aggregator.cli_export import register as register_export
from worktally.aggregator.provisioning import init_data_dir, open_store
from worktally.aggregator.releases import list_releases
from worktally.aggregator.settings import (
    DEFAULT_K,
    DEFAULT_MIN_CONTRIBUTORS,
    ROLES,
    DataDir,
    ReleasePolicy,
)
from worktally.aggregator.store import AggregatorStore, private_umask
from worktally.aggregator.summary import current_rows
from worktally.client import paths
from worktally.client.wire.dap import b64url
from worktally.client.wire.errors import WorktallyError

F = TypeVar("F", bound=Callable[..., Any])


class AggregatorGroup(click.Group):
    """Turns WorktallyError into a one-line message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WorktallyError as exc:
            click.echo(f"worktally-aggregator: {exc}", err=True)
            sys.exit(1)


def data_option(func: F) -> F:
    return click.option("--data", "data", required=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="The aggregator's data directory.")(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


@contextmanager
def _store(data: Path) -> Iterator[AggregatorStore]:
    store = open_store(DataDir(data))
    try:
        yield store
    finally:
        store.close()


@click.group(cls=AggregatorGroup)
@click.version_option(package_name="worktally")
@click.option("--url", help="Act on the aggregator running at this URL (instead of a command's "
              "--data DIR).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding the admin's or the privacy officer's token: for --url, and "
                   "offline for the officer's actions.")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token_file: Path | None) -> None:
    """worktally-aggregator: ingest private reports, release team figures with error bars."""
    ctx.obj = {"url": url, "token_file": token_file}


@cli.command()
@data_option
@click.option("--role", type=click.Choice(ROLES), default="leader", show_default=True,
              help="Secure mode's role: the leader (clients upload to it; it also serves "
                   "local-mode cohorts and holds the collector key) or the helper.")
@click.option("--k", "k_min", type=int, default=DEFAULT_K, show_default=True,
              help="The default k of new cohorts: a release needs at least k reports.")
@click.option("--min-contributors", type=int, default=DEFAULT_MIN_CONTRIBUTORS,
              show_default=True, help="Local mode: the fewest reports any release may have, "
                                      "whatever the cohort's k.")
@json_option
def init(data: Path, role: str, k_min: int, min_contributors: int, as_json: bool) -> None:
    """Create the keys and the admin and privacy-officer tokens (shown once)."""
    deployment = init_data_dir(DataDir(data), ReleasePolicy(k_min, min_contributors), role)
    out: dict[str, Any] = {
        "role": role, "admin_token": deployment.admin_token,
        "officer_token": deployment.officer_token,
        "public_key": base64.b64encode(deployment.public_key).decode(),
        "k_min": k_min, "min_contributors": min_contributors}
    for name, config in (("hpke_config", deployment.hpke_config),
                         ("collector_hpke_config", deployment.collector_config)):
        if config is not None:
            out[name] = b64url(config.encode())
    lines = [f"Aggregator ({role}) created. Store these tokens now; they are not shown again.",
             f"  admin token:           {deployment.admin_token}",
             f"  privacy-officer token: {deployment.officer_token}"]
    if role == "leader":
        lines += [f"  public key (X25519):   {out['public_key']}",
                  f"  default k = {k_min}, minimum contributors = {min_contributors} "
                  "(local mode)",
                  "  collector key: in this data dir; releases open both aggregate shares"]
    emit(out, as_json, "\n".join(lines))


@cli.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8470, show_default=True)
@click.option("--allowed-host", "allowed_hosts", multiple=True,
              help="Accepted Host header (repeatable); loopback names by default on loopback.")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="Refuse to start unless the data dir was made for this role.")
@click.option("--driver-interval", type=float, default=5.0, show_default=True,
              help="Leader: seconds between aggregation passes (0: only before releases).")
@click.option("--clock-offset", type=float, default=0.0, show_default=True,
              help="For demos and tests only: run this many seconds ahead of real time, so "
                   "the current window can end and be released.")
def serve(data: Path, host: str, port: int, allowed_hosts: tuple[str, ...], role: str | None,
          driver_interval: float, clock_offset: float) -> None:
    """Run the HTTP API with one worker that owns the database."""
    from worktally.aggregator.serving import run as run_server

    clock.set_offset(clock_offset)
    run_server(DataDir(data), host, port, list(allowed_hosts), role, driver_interval)


@cli.command()
@optional_data
@json_option
def summary(data: Path | None, as_json: bool) -> None:
    """Released figures per cohort, window and metric, with 95% intervals."""
    from worktally.aggregator.summary import summary_text

    out = run(data, "summary")
    emit(out, as_json, summary_text(out))


@cli.command()
@data_option
@click.option("--out", "out_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="HTML file to write.")
def dashboard(data: Path, out_file: Path) -> None:
    """Write the dashboard as one self-contained HTML file (SVG charts, no scripts)."""
    from worktally.aggregator.dashboard import render_dashboard

    with _store(data) as store:
        rows = current_rows(list_releases(store))
    paths.write_private(out_file, render_dashboard(rows).encode())
    click.echo(f"wrote {out_file.name}")


cli_admin.register(cli)
cli_officer.register(cli)
cli_secure.register(cli)
register_export(cli, data_option, json_option)


def main() -> None:
    private_umask()
    cli(prog_name="worktally-aggregator")


if __name__ == "__main__":
    main()
