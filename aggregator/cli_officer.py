"""The privacy officer's commands (the review, holds, the audit log) and the helper
operator's (accepting a task, batches), run like the admin's (`cli_admin.py`): against a
running server with `--url` and `--token-file`, or on a stopped data dir with `--data`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from worktally.aggregator.cli_admin import cohort_period, data_option, emit, json_option, run
from worktally.aggregator.errors import PolicyViolation
from worktally.aggregator.review import render_review
from worktally.aggregator.settings import DEFAULT_K
from worktally.client import paths


def register(cli: click.Group) -> None:
    """Add the officer's and the helper's commands to the `worktally-aggregator` group."""
    _officer_commands(cli)
    _helper_commands(cli)


def _officer_commands(cli: click.Group) -> None:
    @cli.command()
    @data_option
    @json_option
    @click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
                  help="Also write the review as a self-contained HTML page.")
    def review(data: Path | None, as_json: bool, html_out: Path | None) -> None:
        """(Privacy officer) Fields, bounds, windows, ε/δ, k, rosters, releases and holds."""
        out = run(data, "review")
        if html_out is not None:
            paths.write_private(html_out, render_review(out).encode())
        text = [f"schema v{out['schema_version']}, k={out['k_min']}, "
                f"min contributors={out['min_contributors']}"]
        text += [f"cohort {c['name']} ({c['mode']}): roster {c['roster_size']}, k "
                 f"{c['k_min']}, ε={c['epsilon_per_person_per_period']} "
                 f"δ={c['delta_per_person_per_period']} per person per {c['window']}, "
                 f"{c['mechanism']}" for c in out["cohorts"]]
        text += [f"release #{r['release_id']} {r['cohort']} {r['period']} at "
                 f"{r['released_at']} n={r['n']}" for r in out["releases"]]
        text += [f"HELD {h['cohort']} {h['period']}: {h['reason']}" for h in out["holds"]]
        emit(out, as_json, "\n".join(text))

    @cli.command("hold")
    @data_option
    @cohort_period
    @click.option("--reason", required=True, help="Why (kept in the audit log).")
    @json_option
    def hold_command(data: Path | None, cohort: str, period: str, reason: str,
                     as_json: bool) -> None:
        """(Privacy officer) Block a cohort-period from being released."""
        out = run(data, "hold", cohort=cohort, period=period, reason=reason)
        emit(out, as_json, f"{cohort} {period} is on hold.")

    @cli.command("unhold")
    @data_option
    @cohort_period
    @json_option
    def unhold_command(data: Path | None, cohort: str, period: str, as_json: bool) -> None:
        """(Privacy officer) Lift a hold."""
        out = run(data, "unhold", cohort=cohort, period=period)
        emit(out, as_json, f"{cohort} {period} may be released again.")

    @cli.command("holds")
    @data_option
    @json_option
    def holds_command(data: Path | None, as_json: bool) -> None:
        """(Privacy officer) The releases on hold, with why."""
        out = run(data, "holds_list")
        emit(out, as_json, "\n".join(f"{h['cohort']} {h['period']} since {h['held_at']}: "
                                     f"{h['reason']}" for h in out["holds"]) or "no holds")

    @cli.command("audit")
    @data_option
    @click.option("--cohort", help="Only this cohort.")
    @click.option("--period", help="Only this window.")
    @click.option("--action", help="Only this action (release, hold, enroll, roster, ...).")
    @click.option("--actor", help="Only actors whose name contains this (officer, a token "
                  "id, offline CLI, client).")
    @click.option("--since", help="From this date or time (ISO, UTC).")
    @click.option("--until", help="Before this date or time (ISO, UTC).")
    @click.option("--limit", type=click.IntRange(1, 10_000), default=1000, show_default=True,
                  help="The newest this many entries.")
    @json_option
    def audit_command(data: Path | None, cohort: str | None, period: str | None,
                      action: str | None, actor: str | None, since: str | None,
                      until: str | None, limit: int, as_json: bool) -> None:
        """The audit log: who changed what, when (admin or officer token)."""
        out = run(data, "audit", cohort=cohort, period=period, action=action, actor=actor,
                  since=since, until=until, limit=limit)
        emit(out, as_json, "\n".join(
            f"{e['ts'][:19]} {e['actor']}: {e['action']} {e['cohort'] or ''} "
            f"{e['period'] or ''} {e['detail']}".rstrip() for e in out["entries"])
            or "no entries match")


def _helper_commands(cli: click.Group) -> None:
    @cli.group()
    def task() -> None:
        """(Helper) Secure-mode tasks: review and accept the leader's task file."""

    @task.command("accept")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @data_option
    @click.option("--max-epsilon", type=float, default=4.0, show_default=True,
                  help="Refuse a task spending more ε per release.")
    @click.option("--max-epsilon-per-year", type=float, default=16.0, show_default=True,
                  help="Refuse a task whose windows could spend more ε per person per year.")
    @click.option("--min-k", type=int, default=DEFAULT_K, show_default=True,
                  help="Refuse a task releasing fewer contributors than this.")
    @json_option
    def task_accept(file: Path, data: Path | None, max_epsilon: float,
                    max_epsilon_per_year: float, min_k: int, as_json: bool) -> None:
        """Review a task file from the leader and accept it, or refuse it by policy."""
        try:
            body = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicyViolation(f"{file.name} is not a readable task file: {exc}") from exc
        out = run(data, "task_accept", task=body, max_epsilon=max_epsilon,
                  max_epsilon_per_year=max_epsilon_per_year, min_k=min_k)
        summary = out["summary"]
        emit(out, as_json,
             f"Accepted task {out['task_id']} for {summary['cohort']}: ε "
             f"{summary['epsilon_per_release']} per {summary['window']}, k {summary['k_min']},"
             f" noise by {summary['noise']} (the roster is the leader's; this helper checks k).")

    @cli.command("batches")
    @data_option
    @json_option
    def batches(data: Path | None, as_json: bool) -> None:
        """Secure mode: each batch's reports, pending reports, unfinished jobs."""
        out = run(data, "batches")
        emit(out, as_json, "\n".join(
            f"{b['cohort']} {b['window']}: {b['reports']} aggregated, {b['pending']} pending, "
            f"{b['unfinished_jobs']} unfinished jobs"
            f"{', collected' if b['collected'] else ''}"
            f"{'; last error: ' + b['last_error'] if b['last_error'] else ''}"
            for b in out["batches"]) or "no batches yet")
