"""The `worktally-aggregator` command: set up a deployment, add cohorts, serve, release, report.

Commands other than `serve` open the database themselves, so they work while the server is
stopped; while it runs, use the HTTP API (DuckDB lets only one process hold the file).
Secure mode's own commands (`task accept`, `tokens issue`, `vdaf-vectors`) are in
`cli_secure.py`; `init`, `cohort add`, `serve` and `release` here take its options.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from worktally.aggregator import clock
from worktally.aggregator.cli_export import register as register_export
from worktally.aggregator.cli_secure import (
    add_secure_cohort,
    register,
    release_any,
    secure_cohort_options,
)
from worktally.aggregator.dap.tasks import WINDOWS_PER_YEAR
from worktally.aggregator.provisioning import (
    add_cohort,
    init_data_dir,
    list_cohorts,
    open_store,
)
from worktally.aggregator.releases import hold, list_releases, unhold
from worktally.aggregator.review import build_review, render_review
from worktally.aggregator.settings import (
    DEFAULT_EPSILON,
    DEFAULT_K,
    DEFAULT_MIN_CONTRIBUTORS,
    DEFAULT_WINDOW,
    ROLES,
    DataDir,
    ReleasePolicy,
)
from worktally.aggregator.store import AggregatorStore
from worktally.aggregator.summary import build_summary, current_rows
from worktally.client import paths
from worktally.client.wire.dap import b64url
from worktally.client.wire.dap.window import WINDOW_KINDS
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


def cohort_period(func: F) -> F:
    func = click.option("--period", required=True,
                        help="The cohort's window: 2026-W48, 2026-11 or 2026-Q4.")(func)
    return click.option("--cohort", required=True, help="Cohort (team) name.")(func)


@contextmanager
def _store(data: Path) -> Iterator[AggregatorStore]:
    store = open_store(DataDir(data))
    try:
        yield store
    finally:
        store.close()


def _emit(obj: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(obj, indent=2, default=str) if as_json else text)


@click.group(cls=AggregatorGroup)
@click.version_option(package_name="worktally")
def cli() -> None:
    """worktally-aggregator: ingest private reports, release team figures with error bars."""


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
    _emit(out, as_json, "\n".join(lines))


@cli.group()
def cohort() -> None:
    """Teams: their public roster size and privacy policy."""


@cohort.command("add")
@click.argument("name")
@data_option
@click.option("--roster", type=int, required=True, help="How many people are in the team.")
@click.option("--window", type=click.Choice(WINDOW_KINDS), default=DEFAULT_WINDOW,
              show_default=True, help="The release window: one release per window.")
@click.option("--epsilon", type=float, default=DEFAULT_EPSILON, show_default=True,
              help="ε per release: what one person's report spends (δ = 0).")
@click.option("--k", "k_min", type=int, default=None,
              help="The fewest reports a release may have (default: init's --k).")
@secure_cohort_options
@json_option
def cohort_add(name: str, data: Path, roster: int, window: str, epsilon: float,
               k_min: int | None, helper_url: str | None, leader_url: str | None, noise: str,
               task_file: Path | None, as_json: bool) -> None:
    """Add a cohort: with --helper-url a secure one (and its task file for the helper),
    otherwise a local-mode one (the single-server fallback)."""
    if helper_url is not None:
        add_secure_cohort(data, name, roster, epsilon, helper_url, leader_url, window, noise,
                          k_min, task_file, as_json)
        return
    with _store(data) as store:
        c = add_cohort(store, name, roster, window, epsilon, k_min)
    yearly = c.epsilon * WINDOWS_PER_YEAR[c.window]
    _emit({"cohort": c.name, "mode": c.mode, "roster_size": c.roster_size, "window": c.window,
           "epsilon": c.epsilon, "epsilon_per_person_per_year_max": yearly, "delta": c.delta,
           "mechanism": c.mechanism, "k_min": c.k_min}, as_json,
          f"Local-mode cohort {c.name}: roster {c.roster_size}, k {c.k_min}, one release per "
          f"{c.window} at ε {c.epsilon:g} (up to {yearly:g} per person per year), δ 0.\n"
          "Local mode is the single-server fallback: each person's report carries its own "
          "noise, so figures are far wider than in secure mode.\nIssue each person's "
          f"enrollment token with `worktally-aggregator tokens issue {c.name} --count "
          f"{c.roster_size}`.")


@cohort.command("list")
@data_option
@json_option
def cohort_list(data: Path, as_json: bool) -> None:
    """List cohorts with roster size and policy."""
    with _store(data) as store:
        cohorts = list_cohorts(store)
    rows = [c.__dict__ for c in cohorts]
    _emit({"cohorts": rows}, as_json, "\n".join(
        f"{c.name} ({c.mode}): roster {c.roster_size}, k {c.k_min}, ε {c.epsilon:g} per "
        f"{c.window}, δ {c.delta:g}, {c.mechanism}" for c in cohorts)
        or "no cohorts yet; add one with `worktally-aggregator cohort add`")


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
    from worktally.aggregator.serving import run

    clock.set_offset(clock_offset)
    run(DataDir(data), host, port, list(allowed_hosts), role, driver_interval)


@cli.command("release")
@data_option
@cohort_period
@json_option
def release_command(data: Path, cohort: str, period: str, as_json: bool) -> None:
    """Release a cohort's window once it has ended, if k, the roster and holds allow it.

    A secure cohort's release runs its pending aggregation jobs with the helper, collects
    both aggregate shares and opens them with the collector key in this data dir."""
    with _store(data) as store:
        rel = release_any(store, DataDir(data), cohort, period)
    _emit({"release_id": rel.release_id, "cohort": cohort, "period": period, "n": rel.n},
          as_json, f"Released {cohort} {period} (n={rel.n}, release #{rel.release_id}); "
                   f"{len(rel.estimates)} figures with 95% intervals.")


@cli.command("hold")
@data_option
@cohort_period
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def hold_command(data: Path, cohort: str, period: str, reason: str) -> None:
    """(Privacy officer) Block a cohort-period from being released."""
    with _store(data) as store:
        hold(store, cohort, period, reason)
    click.echo(f"{cohort} {period} is on hold.")


@cli.command("unhold")
@data_option
@cohort_period
def unhold_command(data: Path, cohort: str, period: str) -> None:
    """(Privacy officer) Lift a hold."""
    with _store(data) as store:
        unhold(store, cohort, period)
    click.echo(f"{cohort} {period} may be released again.")


@cli.command()
@data_option
@json_option
def summary(data: Path, as_json: bool) -> None:
    """Released figures per cohort, window and metric, with 95% intervals."""
    from worktally.aggregator.summary import summary_text

    with _store(data) as store:
        out = build_summary(list_releases(store))
    _emit(out, as_json, summary_text(out))


@cli.command()
@data_option
@json_option
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the review as a self-contained HTML page.")
def review(data: Path, as_json: bool, html_out: Path | None) -> None:
    """(Privacy officer) Fields, bounds, windows, ε/δ, k, rosters, releases and holds."""
    with _store(data) as store:
        out = build_review(store)
    if html_out is not None:
        paths.write_private(html_out, render_review(out).encode())
    text = [f"schema v{out['schema_version']}, k={out['k_min']}, "
            f"min contributors={out['min_contributors']}"]
    text += [f"cohort {c['name']} ({c['mode']}): roster {c['roster_size']}, k {c['k_min']}, "
             f"ε={c['epsilon_per_person_per_period']} δ={c['delta_per_person_per_period']} "
             f"per person per {c['window']}, {c['mechanism']}" for c in out["cohorts"]]
    text += [f"release #{r['release_id']} {r['cohort']} {r['period']} at {r['released_at']} "
             f"n={r['n']}" for r in out["releases"]]
    text += [f"HELD {h['cohort']} {h['period']}: {h['reason']}" for h in out["holds"]]
    _emit(out, as_json, "\n".join(text))


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


register(cli, data_option, json_option)
register_export(cli, data_option, json_option)


def main() -> None:
    cli(prog_name="worktally-aggregator")


if __name__ == "__main__":
    main()
