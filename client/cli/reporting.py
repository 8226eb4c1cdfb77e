"""Commands of the `worktally` CLI for the private weekly report: enroll, report preview/send/log.

`report preview` shows exactly the fields and values that `report send` will upload (the same
stored noised vector); `--json` keys are a contract for scripts and tests.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from worktally.client import config
from worktally.client.agent import access
from worktally.client.agent.control import AgentRequestError
from worktally.client.cli.output import emit, json_option
from worktally.client.errors import WorktallyError
from worktally.client.report import upload
from worktally.client.report.identity import enroll as enroll_client
from worktally.client.wire.schema import METRICS

week_option = click.option(
    "--week", default=None, metavar="YYYY-Www",
    help="ISO week to report (default: the last complete week, in UTC).",
)



def run_request(request: dict[str, Any]) -> dict[str, Any]:
    """Ask the database owner: the running agent, or this process under the agent lock."""
    try:
        result, _via_agent = access.call(request)
    except AgentRequestError as exc:
        if "unknown agent command" in str(exc):
            raise WorktallyError(
                "the running agent predates the report commands; restart it "
                "(`worktally agent stop`, then start it again) and retry"
            ) from exc
        raise
    return result



@click.command()
@click.argument("url")
@click.argument("token")
@json_option
def enroll(url: str, token: str, as_json: bool) -> None:
    """Enroll with the aggregator at URL using your team's enrollment TOKEN from your admin."""
    enrollment = enroll_client(url, token, config.load().report)
    data = {
        "url": enrollment.url, "client_id": enrollment.client_id, "cohort": enrollment.cohort,
        "epsilon": enrollment.epsilon, "delta": enrollment.delta,
        "mechanism": enrollment.mechanism, "period": enrollment.period,
        "schema_version": enrollment.schema_version,
    }

    def render(console: Console) -> None:
        console.print(f"enrolled in cohort {enrollment.cohort} at {enrollment.url}")
        console.print(f"each {enrollment.period} report spends ε={enrollment.epsilon:g}, "
                      f"δ={enrollment.delta:g} ({enrollment.mechanism} noise)")

    emit(as_json, data, render)


@click.group()
def report() -> None:
    """Preview, send and audit the weekly differentially private report."""


def _render_prepared(console: Console, data: dict[str, Any], title: str) -> None:
    p = data["payload"]
    console.print(f"{title}: cohort {p['cohort']}, period {p['period']}, "
                  f"schema {p['schema_version']}, client {p['client_id']}, nonce {p['nonce']}")
    table = Table(title="values that leave (your numbers + noise; they may be negative)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("clipped to", justify="right")
    table.add_column("unit")
    for metric in METRICS:
        table.add_row(metric.name, str(p["values"][metric.name]),
                      f"{metric.lower}..{metric.upper}", metric.unit)
    console.print(table)
    spent, budget = data["spent_this_period"], data["budget"]
    console.print(f"this report spends ε={p['epsilon']:g}, δ={p['delta']:g} "
                  f"({p['mechanism']}); spent for {p['period']}: ε {spent['epsilon']:g} of "
                  f"{budget['epsilon']:g}, δ {spent['delta']:g} of {budget['delta']:g}")
    if data["reused"]:
        console.print("(the stored vector for this period; no new budget was spent)")


@report.command()
@week_option
@json_option
def preview(week: str | None, as_json: bool) -> None:
    """Show exactly what `report send` will upload for the week (this fixes the noise)."""
    data = run_request({"cmd": "report_prepare", "week": week})
    emit(as_json, data, lambda c: _render_prepared(c, data, "report preview"))


@report.command()
@week_option
@json_option
def send(week: str | None, as_json: bool) -> None:
    """Upload the week's report (the previewed values); retries never spend budget twice."""
    data = upload.send(run_request, week)

    def render(console: Console) -> None:
        _render_prepared(console, data, "report sent")
        console.print(f"aggregator answer: {data['status']} after {data['attempts']} "
                      "attempt(s)")

    emit(as_json, data, render)


@report.command(name="log")
@json_option
def log_command(as_json: bool) -> None:
    """List every stored report vector and every upload attempt with the values sent."""
    data = run_request({"cmd": "report_log"})

    def render(console: Console) -> None:
        table = Table(title="upload log (every attempt, exact values sent)")
        for column in ("when", "cohort", "period", "ε", "δ", "status", "http", "values"):
            table.add_column(column)
        for u in data["uploads"]:
            table.add_row(u["attempted_at"], u["cohort"], u["period"], f"{u['epsilon']:g}",
                          f"{u['delta']:g}", u["status"], str(u["http_status"] or "-"),
                          " ".join(str(v) for v in u["values"]))
        console.print(table)
        console.print(f"{len(data['ledger'])} period(s) with a stored vector; values are in "
                      f"the order {', '.join(data['metrics'])}")

    emit(as_json, data, render)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(enroll)
    group.add_command(report)
