"""What the demo shows: a progress bar on stderr, then the admin summary, the privacy review,
the verdict on the tokenmaxxing cohort, the dashboard's path and the wall time.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from worktally.client.demo.runner import DemoResult
from worktally.client.wire.display import CLAMP_LEGEND, GREY_LEGEND, Figure


class BarProgress:
    """One rich progress bar per demo step, drawn on stderr (threads advance it)."""

    def __init__(self, console: Console) -> None:
        self.bars = RichProgress(TextColumn("{task.description:<22}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> BarProgress:
        self.bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.bars.stop()

    def begin(self, step: str, total: int) -> None:
        with self.lock:
            self.tasks[step] = self.bars.add_task(step, total=total)

    def advance(self, step: str) -> None:
        with self.lock:
            self.bars.advance(self.tasks[step])


def _figure(est: dict[str, Any], truth: float | None) -> str:
    """The figure as the display rule shows it (`client/wire/display.py`), the simulated truth
    beside it; an uninformative figure is dimmed, with the team size it would need."""
    figure = Figure.from_json(est)
    seen = "-" if truth is None else figure.number(truth)
    shown = escape(figure.text)
    if figure.informative:
        return f"{shown}  (true {seen})"
    return f"[dim]{shown}  (true {seen}; {figure.note})[/dim]"


def summary_table(summary: dict[str, Any], truth: dict[str, dict[str, float | None]]) -> Table:
    """Metric by cohort: the released mean with its 95% interval, and the simulated truth."""
    rows = summary["cohorts"]
    table = Table(title="released figures: estimate [95% interval] (the simulated truth, which "
                        "no aggregator saw)")
    table.add_column("metric", no_wrap=True)
    for row in rows:
        table.add_column(f"{row['cohort']} {row['period']} (n={row['n']})", justify="right",
                         no_wrap=True)
    for metric in summary["metrics"]:
        name = metric["name"]
        cells = [_figure(row["metrics"][name]["mean"], truth.get(row["cohort"], {}).get(name))
                 for row in rows]
        table.add_row(f"{name} ({metric['unit']})", *cells)
    return table


def review_tables(review: dict[str, Any]) -> list[Table]:
    """The privacy officer's view: fields with bounds, and per cohort its policy and releases."""
    policy = Table(title=f"privacy review: report schema v{review['schema_version']}")
    cap = review["yearly_epsilon_cap"]
    for column in ("cohort", "mode", "roster", "enrolled", "k", "window", "ε / release",
                   "ε / person / year (max)", "ε spent this year", f"left of {cap:g}",
                   "releasable"):
        policy.add_column(column)
    for c in review["cohorts"]:
        policy.add_row(c["name"], c["mode"], str(c["roster_size"]), str(c["enrolled_clients"]),
                       str(c["k_min"]), c["window"], f"{c['epsilon_per_person_per_period']:g}",
                       f"{c['epsilon_per_person_per_year_max']:g}",
                       f"{c['epsilon_spent_this_year']:g}", f"{c['epsilon_left_this_year']:g}",
                       "yes" if c["releasable"] else "no")
    fields = Table(title="fields that leave a machine (as two random shares, in secure mode)")
    for column in ("field", "kind", "bound", "counted for", "share of ε", "unit"):
        fields.add_column(column)
    for f in review["fields"]:
        fields.add_row(f["name"], f["kind"], str(f["upper"]),
                       f"people with {f['gate']}" if f["gate"] else "everyone",
                       f"{f['epsilon_weight']:.0%}", f["unit"])
    releases = Table(title="releases (audit)")
    for column in ("#", "cohort", "window", "n", "roster", "k", "ε", "noise by", "by"):
        releases.add_column(column)
    for r in review["releases"]:
        noise = {1: "helper", 2: "both"}.get(r["noise_copies"], "each person")
        releases.add_row(str(r["release_id"]), r["cohort"], r["period"], str(r["n"]),
                         str(r["roster_size"]), str(r["k_min"]), f"{r['epsilon']:g}", noise,
                         r["released_by"])
    return [fields, policy, releases]


def wide_console() -> Console:
    """stdout at least 150 columns wide, so the summary table is not cut when piped."""
    return Console(width=max(Console().width, 150))


def print_result(console: Console, result: DemoResult) -> None:
    console.print(f"[bold]worktally demo[/bold]: {result.developers} developers, window "
                  f"{result.period}, secure aggregation (a leader and a helper on loopback); "
                  f"each person spent ε={result.epsilon_spent:g} of 16 this year")
    console.print(summary_table(result.summary, result.truth))
    console.print("Counts are in people, shares are means over the people each counts, "
                  f"volumes are means per person. {escape(CLAMP_LEGEND)}; "
                  f"{GREY_LEGEND.replace('greyed', 'dimmed')}.")
    for table in review_tables(result.review):
        console.print(table)
    for verdict in result.verdicts:
        style = "bold green" if verdict.stands_out else "bold yellow"
        console.print(f"[{style}]{escape(verdict.sentence())}[/{style}]")
    console.print(f"dashboard: {result.dashboard}")
    console.print(f"wall time: {result.wall_time_s:.1f} s")
