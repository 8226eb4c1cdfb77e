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


def _interval(est: dict[str, Any]) -> str:
    # Intervals are trimmed to what clipped values can reach, so show both ends, not ±.
    # A noisy estimate beyond the field's range is shown at the edge, marked with "*"
    # (clamping is post-processing: it costs no privacy; the API keeps the raw value).
    value, low, high = est["estimate"], est["low"], est["high"]
    shown = min(max(value, low), high)
    mark = "*" if shown != value else ""
    return f"{shown:.0f}{mark} [{low:.0f}, {high:.0f}]"


def summary_table(summary: dict[str, Any]) -> Table:
    """Cohort by metric: each mean per contributor with its 95% interval, and org totals."""
    rows = summary["cohorts"] + summary["org"]
    table = Table(title="admin summary: mean per contributor, estimate [95% interval]; "
                        "org sum = the teams' sums added")
    table.add_column("metric", no_wrap=True)
    for row in rows:
        table.add_column(f"{row['cohort']} (n={row['n']})", justify="right", no_wrap=True)
    table.add_column("org sum", justify="right", no_wrap=True)
    org = summary["org"][0] if summary["org"] else None
    for metric in summary["metrics"]:
        name = metric["name"]
        cells = [_interval(row["metrics"][name]["mean"]) for row in rows]
        org_sum = _interval(org["metrics"][name]["sum"]) if org is not None else "-"
        table.add_row(name, *cells, org_sum)
    return table


def review_tables(review: dict[str, Any]) -> list[Table]:
    """The privacy officer's view: fields with bounds, and per cohort ε, δ, roster, releases."""
    policy = Table(title=f"privacy review: schema v{review['schema_version']}, "
                         f"k = {review['k_min']}, "
                         f"minimum contributors = {review['min_contributors']}")
    for column in ("cohort", "roster", "enrolled keys", "ε / person / week",
                   "δ / person / week", "mechanism", "releasable"):
        policy.add_column(column)
    for c in review["cohorts"]:
        policy.add_row(c["name"], str(c["roster_size"]), str(c["enrolled_clients"]),
                       f"{c['epsilon_per_person_per_period']:g}",
                       f"{c['delta_per_person_per_period']:g}", c["mechanism"],
                       "yes" if c["releasable"] else "no")
    fields = Table(title="fields that leave a machine (clipping bounds)")
    for column in ("field", "lower", "upper", "unit"):
        fields.add_column(column)
    for f in review["fields"]:
        fields.add_row(f["name"], str(f["lower"]), str(f["upper"]), f["unit"])
    releases = Table(title="releases (audit)")
    for column in ("#", "cohort", "period", "n", "roster", "k", "ε", "δ", "by"):
        releases.add_column(column)
    for r in review["releases"]:
        releases.add_row(str(r["release_id"]), r["cohort"], r["period"], str(r["n"]),
                         str(r["roster_size"]), str(r["k_min"]), f"{r['epsilon']:g}",
                         f"{r['delta']:g}", r["released_by"])
    return [fields, policy, releases]


def wide_console() -> Console:
    """stdout at least 150 columns wide, so the summary table is not cut when piped."""
    return Console(width=max(Console().width, 150))


def print_result(console: Console, result: DemoResult) -> None:
    console.print(f"[bold]worktally demo[/bold]: {result.developers} developers, "
                  f"week {result.period}")
    console.print(summary_table(result.summary))
    console.print("Each person's values carry local noise, so a team's raw estimate can fall "
                  "outside its field's range; * marks one shown at the range's edge. Intervals "
                  "are trimmed to the range.")
    for table in review_tables(result.review):
        console.print(table)
    for verdict in result.verdicts:
        style = "bold green" if verdict.stands_out else "bold yellow"
        console.print(f"[{style}]{escape(verdict.sentence())}[/{style}]")
    console.print(f"dashboard: {result.dashboard}")
    console.print(f"wall time: {result.wall_time_s:.1f} s")
