"""Commands of the `worktally` CLI: `worktally demo`, a simulated team end to end on loopback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from rich.console import Console

from worktally.client import paths
from worktally.client.cli.output import echo_json


@click.command()
@click.option("--developers-per-cohort", "per_cohort", type=click.IntRange(1, 200), default=16,
              show_default=True, help="Developers in each of the two cohorts.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo keeps everything (default: a new temporary folder, kept).")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Seed of the scenario (who does what); the privacy noise is never seeded.")
@click.option("--k", "k_min", type=click.IntRange(2, 1000), default=10, show_default=True,
              help="The aggregator's minimum roster size (lower it only for small test runs).")
@click.option("--workers", type=click.IntRange(1, 16), default=3, show_default=True,
              help="Developers simulated at the same time.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result.")
def demo(per_cohort: int, workdir: Path | None, seed: int, k_min: int, workers: int,
         as_json: bool) -> None:
    """Simulate two teams end to end: editors, agents, commits, private reports, releases."""
    # Imported here so other commands do not pay for loading the demo.
    from worktally.client.demo.output import BarProgress, print_result, wide_console
    from worktally.client.demo.runner import DemoSettings, run_demo

    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="worktally-demo-"))
    elif workdir.exists() and any(workdir.iterdir()):
        raise click.UsageError(f"{workdir} is not empty; give a new or empty --workdir")
    paths.ensure_private_dir(workdir, owned=True)  # new or empty: the demo's own
    settings = DemoSettings(workdir.resolve(), per_cohort, seed, k_min, workers)
    err = Console(stderr=True)
    err.print(f"worktally demo: {2 * per_cohort} developers in {workdir}")
    with BarProgress(err) as progress:
        result = run_demo(settings, progress)
    if as_json:
        echo_json(result.to_json())
    else:
        print_result(wide_console(), result)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(demo)
