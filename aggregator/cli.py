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

from worktally.aggregator.cli_secure import (
    add_secure_cohort,
    register,
    release_any,
    secure_cohort_options,
)
from worktally.aggregator.dap.tasks import DEFAULT_EPSILON_RELEASE
from worktally.aggregator.provisioning import (
    add_cohort,
    init_data_dir,
    list_cohorts,
    open_store,
)
from worktally.aggregator.releases import hold, list_releases, unhold
from worktally.aggregator.review import build_review, render_review
from worktally.aggregator.settings import (
    DEFAULT_DELTA,
    DEFAULT_EPSILON,
    DEFAULT_K,
    DEFAULT_MECHANISM,
    DEFAULT_MIN_CONTRIBUTORS,
    ROLES,
    DataDir,
    ReleasePolicy,
)
from worktally.aggregator.store import AggregatorStore
from worktally.aggregator.summary import build_summary, org_rows, release_row
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


def cohort_period(func: F) -> F:
    func = click.option("--period", required=True, help="ISO week, e.g. 2026-W48.")(func)
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
              help="Minimum public roster size of a released local-mode cohort.")
@click.option("--min-contributors", type=int, default=DEFAULT_MIN_CONTRIBUTORS,
              show_default=True, help="Minimum number of reports in a released period.")
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
                  f"  k = {k_min}, minimum contributors = {min_contributors} (local mode)",
                  "  collector key: in this data dir; releases open both aggregate shares"]
    _emit(out, as_json, "\n".join(lines))


@cli.group()
def cohort() -> None:
    """Teams: their public roster size, DP policy and enrollment token."""


@cohort.command("add")
@click.argument("name")
@data_option
@click.option("--roster", type=int, required=True, help="How many people are in the team.")
@click.option("--epsilon", type=float, default=None,
              help=f"ε per person per period (local mode, default {DEFAULT_EPSILON}) or per "
                   f"release (secure mode, default {DEFAULT_EPSILON_RELEASE}).")
@click.option("--delta", type=float, default=DEFAULT_DELTA, show_default=True,
              help="δ per person per period (local mode).")
@click.option("--mechanism", default=DEFAULT_MECHANISM, show_default=True)
@secure_cohort_options
@json_option
def cohort_add(name: str, data: Path, roster: int, epsilon: float | None, delta: float,
               mechanism: str, helper_url: str | None, leader_url: str | None, window: str,
               noise: str, k_min: int, task_file: Path | None, as_json: bool) -> None:
    """Add a cohort: with --helper-url a secure one (and its task file for the helper),
    otherwise a local-mode one with its enrollment token."""
    if helper_url is not None:
        add_secure_cohort(data, name, roster, epsilon, helper_url, leader_url, window, noise,
                          k_min, task_file, as_json)
        return
    epsilon = DEFAULT_EPSILON if epsilon is None else epsilon
    with _store(data) as store:
        token = add_cohort(store, name, roster, epsilon, delta, mechanism)
    _emit({"cohort": name, "roster_size": roster, "enrollment_token": token,
           "epsilon": epsilon, "delta": delta, "mechanism": mechanism}, as_json,
          f"Cohort {name} (roster {roster}, ε={epsilon}, δ={delta}, {mechanism}).\n"
          f"  enrollment token: {token}\nGive it to the team's members for `worktally enroll`.")


@cohort.command("list")
@data_option
@json_option
def cohort_list(data: Path, as_json: bool) -> None:
    """List cohorts with roster size and DP policy."""
    with _store(data) as store:
        cohorts = list_cohorts(store)
    rows = [c.__dict__ for c in cohorts]
    _emit({"cohorts": rows}, as_json, "\n".join(
        f"{c.name}: roster {c.roster_size}, ε={c.epsilon}, δ={c.delta}, {c.mechanism}"
        for c in cohorts) or "no cohorts yet; add one with `worktally-aggregator cohort add`")


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
def serve(data: Path, host: str, port: int, allowed_hosts: tuple[str, ...], role: str | None,
          driver_interval: float) -> None:
    """Run the HTTP API with one worker that owns the database."""
    from worktally.aggregator.serving import run

    run(DataDir(data), host, port, list(allowed_hosts), role, driver_interval)


@cli.command("release")
@data_option
@cohort_period
@json_option
def release_command(data: Path, cohort: str, period: str, as_json: bool) -> None:
    """Release a cohort's period if k, the contributor minimum and holds allow it.

    A secure cohort's release runs its pending aggregation jobs with the helper, collects
    both aggregate shares and opens them with the collector key in this data dir."""
    with _store(data) as store:
        rel = release_any(store, DataDir(data), cohort, period)
    row = release_row(rel)
    _emit({"release_id": rel.release_id, "cohort": cohort, "period": period, "n": rel.n},
          as_json, f"Released {cohort} {period} (n={rel.n}, release #{rel.release_id}); "
                   f"{len(row.figures)} figures with 95% intervals.")


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
    """Released figures per cohort, period and metric with 95% intervals, and org totals."""
    with _store(data) as store:
        out = build_summary(list_releases(store))
    lines = []
    for row in out["cohorts"] + out["org"]:
        lines.append(f"{row['period']} {row['cohort']} (n={row['n']})")
        for name, fig in row["metrics"].items():
            mean = fig["mean"]
            lines.append(f"  {name:24} mean {mean['estimate']:>10.2f}  "
                         f"95% [{mean['low']:.2f}, {mean['high']:.2f}]")
    _emit(out, as_json, "\n".join(lines) or "nothing released yet")


@cli.command()
@data_option
@json_option
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the review as a self-contained HTML page.")
def review(data: Path, as_json: bool, html_out: Path | None) -> None:
    """(Privacy officer) Fields, bounds, ε/δ, k, rosters, releases and holds."""
    with _store(data) as store:
        out = build_review(store)
    if html_out is not None:
        paths.write_private(html_out, render_review(out).encode())
    text = [f"schema v{out['schema_version']}, k={out['k_min']}, "
            f"min contributors={out['min_contributors']}"]
    text += [f"cohort {c['name']}: roster {c['roster_size']}, "
             f"ε={c['epsilon_per_person_per_period']} δ={c['delta_per_person_per_period']} "
             f"per person per period, {c['mechanism']}" for c in out["cohorts"]]
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
        teams = [release_row(r) for r in list_releases(store)]
    paths.write_private(out_file, render_dashboard(teams, org_rows(teams)).encode())
    click.echo(f"wrote {out_file.name}")


register(cli, data_option, json_option)


def main() -> None:
    cli(prog_name="worktally-aggregator")


if __name__ == "__main__":
    main()
