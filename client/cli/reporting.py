"""Commands of the `worktally` CLI for the private report: enroll, report preview/send/log.

`report preview` shows, per field, your true (clipped) value beside what leaves: in secure
mode only a random share of it; in local mode the noised value that `report send` uploads
(the same stored vector). `--json` keys are a contract for scripts and tests.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from worktally.client import config
from worktally.client.agent import access
from worktally.client.cli.output import emit, json_option
from worktally.client.control_client import AgentRequestError
from worktally.client.errors import WorktallyError
from worktally.client.report import upload
from worktally.client.report.enrollment import enroll as enroll_client

window_option = click.option(
    "--window", "window", default=None, metavar="LABEL",
    help="Release window to report, like 2026-Q3, 2026-11 or 2026-W48 (default: the last "
         "one of your cohort's kind that has ended).")
# The earlier name of --window, from when every report was weekly.
week_option = click.option("--week", "window", default=None, hidden=True)


def run_request(request: dict[str, Any]) -> dict[str, Any]:
    """Ask the database owner: the running agent, or this process under the agent lock."""
    try:
        result, _via_agent = access.call(request)
    except AgentRequestError as exc:
        if "unknown agent command" in str(exc):
            raise WorktallyError(
                "the running agent predates these report commands; restart it "
                "(`worktally agent stop`, then start it again) and retry"
            ) from exc
        raise
    return result


@click.command()
@click.argument("url")
@click.argument("token")
@json_option
def enroll(url: str, token: str, as_json: bool) -> None:
    """Enroll with the aggregator (the leader) at URL using your personal TOKEN."""
    enrollment, warning = enroll_client(url, token, config.load().report)
    data = {
        "url": enrollment.url, "client_id": enrollment.client_id, "cohort": enrollment.cohort,
        "mode": enrollment.mode, "slot": enrollment.slot,
        "helper_url": enrollment.helper_url or None, "window_kind": enrollment.window_kind,
        "epsilon_per_release": enrollment.epsilon, "delta": enrollment.delta,
        "mechanism": enrollment.mechanism, "schema_version": enrollment.schema_version,
        "warning": warning,
    }

    def render(console: Console) -> None:
        console.print(f"enrolled: {enrollment.describe()}")
        if not enrollment.secure:
            console.print("local mode: your noised values go to one server (weaker than "
                          "secure mode; see docs/privacy.md)")
        if warning:
            console.print(f"note: {warning}")

    emit(as_json, data, render)


@click.group()
def report() -> None:
    """Preview, send and audit the differentially private report."""


def _render_fields(console: Console, data: dict[str, Any], title: str) -> None:
    who = data.get("cohort") or "(not enrolled)"
    console.print(f"{title}: cohort {who}, window {data['window']} ({data['mode']} mode, "
                  f"schema {data['schema_version']}, ε={data['epsilon']:g} per release)")
    secure = data["mode"] == "secure"
    table = Table(title="your values, and what leaves")
    for column in ("metric", "your value", "leaves", "bound", "unit"):
        table.add_column(column, justify="left" if column in ("metric", "unit") else "right")
    for field in data["fields"]:
        leaves = "a random share" if secure else str(field["sent"])
        table.add_row(field["metric"], str(field["value"]), leaves, str(field["bound"]),
                      field["unit"])
    console.print(table)
    if secure:
        console.print("secure mode: each value is split into two random shares, one sealed "
                      "to each aggregator; neither share alone says anything about it, and "
                      "only the noisy team sum is ever released")
    else:
        console.print("local mode: the 'leaves' column is exactly what is uploaded (your "
                      "value plus this machine's noise)")
    if data.get("mostly_unknown"):
        console.print("most committed lines of this window are unknown (not observed), so "
                      "the line share is left out (its flag is 0)")
    year = data["budget"]
    console.print(f"privacy budget {year['year']}: ε {year['spent']:g} spent of "
                  f"{year['cap']:g} ({year['left']:g} left)")
    if data.get("note"):
        console.print(data["note"])
    if data.get("reused"):
        console.print("(the stored report for this window; no new budget was spent)")


@report.command()
@window_option
@week_option
@json_option
def preview(window: str | None, as_json: bool) -> None:
    """Show each field: your true value beside exactly what `report send` lets leave."""
    data = run_request({"cmd": "report_preview", "window": window})
    emit(as_json, data, lambda c: _render_fields(c, data, "report preview"))


@report.command()
@window_option
@week_option
@json_option
def send(window: str | None, as_json: bool) -> None:
    """Upload the window's report; retries never spend budget twice."""
    data = upload.send(run_request, window)

    def render(console: Console) -> None:
        _render_fields(console, data, "report sent")
        console.print(f"aggregator answer: {data['status']} after {data['attempts']} "
                      f"attempt(s), {data['sent_bytes']} bytes")

    emit(as_json, data, render)


@report.command(name="log")
@json_option
def log_command(as_json: bool) -> None:
    """List every stored report and every upload attempt, with what left in clear."""
    data = run_request({"cmd": "report_log"})

    def render(console: Console) -> None:
        table = Table(title="reports (ε is spent once per window)")
        for column in ("window", "cohort", "mode", "ε", "year", "bytes", "accepted"):
            table.add_column(column)
        for r in data["reports"]:
            table.add_row(r["window"], r["cohort"], r["mode"], f"{r['epsilon']:g}",
                          str(r["budget_year"]), str(r["bytes_that_left"]),
                          r["accepted_at"] or "-")
        console.print(table)
        attempts = Table(title="upload attempts (values in clear: local mode only)")
        for column in ("when", "window", "status", "http", "values in clear"):
            attempts.add_column(column)
        for u in data["uploads"]:
            attempts.add_row(u["attempted_at"], u["window"], u["status"],
                             str(u["http_status"] or "-"),
                             " ".join(str(v) for v in u["values_in_clear"]) or "-")
        console.print(attempts)

    emit(as_json, data, render)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(enroll)
    group.add_command(report)
