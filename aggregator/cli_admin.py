"""The admin's commands: cohorts, tokens, clients, windows and releases (the privacy
officer's and the helper's are in `cli_officer.py`), and the options and helpers they share.

Each runs one action of `operations.OPERATIONS` against a running server (`worktally-aggregator
--url URL --token-file FILE COMMAND ...`) or a stopped server's data dir (`COMMAND ... --data
DIR`, with `--token-file` for an officer's action); `cli_backends.py` picks the way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from worktally.aggregator.cli_backends import backend
from worktally.aggregator.enrollment import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS
from worktally.aggregator.report_windows import REPORT_WINDOWS_BACK
from worktally.aggregator.settings import DEFAULT_EPSILON, DEFAULT_WINDOW
from worktally.client import paths
from worktally.client.wire.dap.window import WINDOW_KINDS

F = TypeVar("F", bound=Callable[..., Any])
NOISE = ("both", "helper")


def data_option(func: F) -> F:
    return click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path),
                        help="The aggregator's data directory (the server stopped); or give "
                             "--url and --token-file before the command.")(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def cohort_period(func: F) -> F:
    func = click.option("--period", required=True,
                        help="The cohort's window: 2026-W48, 2026-11 or 2026-Q4.")(func)
    return click.option("--cohort", required=True, help="Cohort (team) name.")(func)


def run(data: Path | None, name: str, /, **params: Any) -> dict[str, Any]:
    """Run one action where the command line says: --url (a running server) or --data."""
    root = click.get_current_context().find_root().obj or {}
    with backend(root.get("url"), root.get("token_file"), data) as where:
        return where.run(name, **params)


def emit(obj: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(obj, indent=2, default=str) if as_json else text)


def register(cli: click.Group) -> None:
    """Add the admin's commands to the `worktally-aggregator` group (the officer's and the
    helper's are `cli_officer.register`)."""
    _cohort_commands(cli)
    _token_commands(cli)
    _client_commands(cli)
    _window_commands(cli)


def _cohort_commands(cli: click.Group) -> None:
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
    @click.option("--helper-url", help="Make a secure cohort with the helper at this URL "
                  "(its /hpke_config is fetched now).")
    @click.option("--leader-url", help="Secure: this leader's public base URL, as clients "
                  "and the helper reach it.")
    @click.option("--noise", type=click.Choice(NOISE), default="helper", show_default=True,
                  help="Secure: who adds noise. helper: the org runs leader and collector; "
                       "both: the leader is a third party.")
    @click.option("--task-file", type=click.Path(dir_okay=False, path_type=Path),
                  help="Secure: where to write the task file for the helper (default "
                       "NAME.task.json here).")
    @json_option
    def cohort_add(name: str, data: Path | None, roster: int, window: str, epsilon: float,
                   k_min: int | None, helper_url: str | None, leader_url: str | None,
                   noise: str, task_file: Path | None, as_json: bool) -> None:
        """Add a cohort: with --helper-url a secure one (and its task file for the helper),
        otherwise a local-mode one (the single-server fallback)."""
        out = run(data, "cohort_add", name=name, roster=roster, window=window,
                  epsilon=epsilon, k_min=k_min, helper_url=helper_url, leader_url=leader_url,
                  noise=noise)
        yearly = out["epsilon_per_person_per_year_max"]
        if helper_url is None:
            emit(out, as_json,
                 f"Local-mode cohort {name}: roster {roster}, k {out['k_min']}, one release "
                 f"per {out['window']} at ε {out['epsilon']:g} (up to {yearly:g} per person "
                 "per year), δ 0.\nLocal mode is the single-server fallback: each person's "
                 "report carries its own noise, so figures are far wider than in secure mode."
                 f"\nIssue each person's enrollment token with `worktally-aggregator tokens "
                 f"issue {name} --count {roster}`.")
            return
        secret = out.pop("task_file")
        target = task_file or Path(f"{name}.task.json")
        paths.write_private(target, json.dumps(secret, indent=2).encode())
        out["task_file"] = str(target)
        summary = out["summary"]
        emit(out, as_json,
             f"Secure cohort {name}: task {out['task_id']}\n"
             f"  roster {roster} (the leader's; not in the task), k {out['k_min']}, window "
             f"{out['window']}, ε {summary['epsilon_per_release']} per release, noise added "
             f"by {noise}\n  task file (secret; give it to the helper's operator): {target}\n"
             "Issue each person's enrollment token with `worktally-aggregator tokens issue`.")

    @cohort.command("list")
    @data_option
    @json_option
    def cohort_list(data: Path | None, as_json: bool) -> None:
        """List cohorts with roster size, policy and enrolled keys."""
        out = run(data, "cohort_list")
        emit(out, as_json, "\n".join(
            f"{c['name']} ({c['mode']}{', retired' if c['retired'] else ''}): roster "
            f"{c['roster_size']}, {c['live_keys']} keys enrolled, k {c['k_min']}, "
            f"ε {c['epsilon']:g} per {c['window']}, δ {c['delta']:g}, {c['mechanism']}"
            for c in out["cohorts"])
            or "no cohorts yet; add one with `worktally-aggregator cohort add`")

    @cohort.command("roster")
    @click.argument("name")
    @click.option("--roster", type=int, required=True, help="The team's new size.")
    @data_option
    @json_option
    def cohort_roster(name: str, roster: int, data: Path | None, as_json: bool) -> None:
        """Change a cohort's public roster size (both modes; the task is unchanged)."""
        out = run(data, "cohort_roster", cohort=name, roster=roster)
        text = f"{name}: roster {out['roster_before']} -> {out['roster']}."
        if out["live_keys_over_roster"]:
            text += (f" {out['live_keys_over_roster']} enrolled keys are in slots over the "
                     "roster: their reports are refused until it grows back.")
        if out["warning"]:
            text += f"\nWarning: {out['warning']}."
        emit(out, as_json, text)

    @cohort.command("retire")
    @click.argument("name")
    @data_option
    @json_option
    def cohort_retire(name: str, data: Path | None, as_json: bool) -> None:
        """Retire a cohort: no more tokens, people or reports; ended windows can still be
        released."""
        out = run(data, "cohort_retire", cohort=name)
        emit(out, as_json, f"{name} is retired: {out['tokens_revoked']} unused tokens and "
                           f"{out['keys_revoked']} enrolled keys revoked.")


def _token_commands(cli: click.Group) -> None:
    @cli.group()
    def tokens() -> None:
        """Per-person enrollment tokens: one-use, expiring, one roster slot each."""

    @tokens.command("issue")
    @click.argument("cohort")
    @data_option
    @click.option("--count", type=int, default=1, show_default=True,
                  help="New slots to issue (never beyond the roster).")
    @click.option("--slot", type=int, help="Reissue this slot's token: its next enrollment "
                  "replaces (revokes) the slot's current key.")
    @click.option("--days", type=int, default=DEFAULT_TOKEN_DAYS, show_default=True,
                  help="Days until the token expires.")
    @json_option
    def tokens_issue(cohort: str, data: Path | None, count: int, slot: int | None, days: int,
                     as_json: bool) -> None:
        """Issue enrollment tokens (shown once; only their digests are kept)."""
        out = run(data, "tokens_issue", cohort=cohort, count=count, slot=slot, days=days)
        emit(out, as_json, "\n".join(f"slot {t['slot']}: {t['token']} (expires "
                                     f"{t['expires_at'][:10]})" for t in out["tokens"]))

    @tokens.command("list")
    @click.argument("cohort", required=False)
    @data_option
    @json_option
    def tokens_list(cohort: str | None, data: Path | None, as_json: bool) -> None:
        """Issued tokens (never the tokens): slot, state, dates."""
        out = run(data, "tokens_list", cohort=cohort)
        emit(out, as_json, "\n".join(
            f"{t['cohort']} slot {t['slot']}: {t['state']}, issued {t['issued_at'][:10]}, "
            f"expires {t['expires_at'][:16]} (id {t['token_id']})" for t in out["tokens"])
            or "no tokens issued")

    @tokens.command("expire")
    @click.argument("cohort")
    @click.option("--slot", type=int, required=True, help="The slot whose unused token to "
                  "re-date.")
    @click.option("--days", type=click.IntRange(0, MAX_TOKEN_DAYS), required=True,
                  help="Days from now until it expires; 0 expires it now.")
    @data_option
    @json_option
    def tokens_expire(cohort: str, slot: int, days: int, data: Path | None,
                      as_json: bool) -> None:
        """Set when a slot's unused token expires (0: now)."""
        out = run(data, "tokens_expiry", cohort=cohort, slot=slot, days=days)
        emit(out, as_json, f"{cohort} slot {slot}'s token now expires {out['expires_at']}.")

    @tokens.command("revoke")
    @click.argument("cohort")
    @click.option("--slot", type=int, help="Only this slot's unused token (default: every "
                  "unused token of the cohort).")
    @data_option
    @json_option
    def tokens_revoke(cohort: str, slot: int | None, data: Path | None, as_json: bool) -> None:
        """Revoke unused enrollment tokens."""
        out = run(data, "tokens_revoke", cohort=cohort, slot=slot)
        emit(out, as_json, f"revoked {out['revoked']} unused token(s) of {cohort}.")


def _client_commands(cli: click.Group) -> None:
    @cli.group()
    def clients() -> None:
        """Enrolled clients (keys): counts, and revoking one."""

    @clients.command("count")
    @click.argument("cohort", required=False)
    @data_option
    @json_option
    def clients_count(cohort: str | None, data: Path | None, as_json: bool) -> None:
        """Per cohort: roster, slots issued, live and revoked keys, unused tokens."""
        out = run(data, "clients_count", cohort=cohort)
        emit(out, as_json, "\n".join(
            f"{c['cohort']}: roster {c['roster']}, {c['slots_issued']} slots issued, "
            f"{c['live_keys']} live keys ({c['live_keys_over_roster']} over the roster), "
            f"{c['revoked_keys']} revoked, {c['unused_tokens']} unused tokens"
            for c in out["cohorts"]) or "no cohorts yet")

    @clients.command("revoke")
    @click.argument("cohort")
    @click.option("--slot", type=int, required=True, help="The roster slot whose key to "
                  "revoke.")
    @data_option
    @json_option
    def clients_revoke(cohort: str, slot: int, data: Path | None, as_json: bool) -> None:
        """Revoke a slot's enrolled key: its reports are refused from now on (reissue the
        slot's token to let the person enroll again)."""
        out = run(data, "clients_revoke", cohort=cohort, slot=slot)
        emit(out, as_json, f"revoked the key of {cohort} slot {slot}; `tokens issue {cohort} "
                           f"--slot {slot}` lets its person enroll again.")


def _window_commands(cli: click.Group) -> None:
    @cli.group()
    def windows() -> None:
        """Release windows and their state: open, ended, held or released."""

    @windows.command("list")
    @click.argument("cohort", required=False)
    @data_option
    @json_option
    def windows_list(cohort: str | None, data: Path | None, as_json: bool) -> None:
        """Each cohort's windows: state, whether reports are still taken, how many came."""
        out = run(data, "windows_list", cohort=cohort)
        lines = [f"{w['cohort']} {w['window']}: {w['state']}"
                 f"{' (' + w['hold_reason'] + ')' if w['hold_reason'] else ''}, "
                 f"{w['reports']} reports, "
                 f"{'takes reports' if w['accepts_reports'] else 'closed to reports'}"
                 for w in out["windows"]]
        lines.append(f"(reports are taken for the current window and the "
                     f"{REPORT_WINDOWS_BACK} before it)")
        emit(out, as_json, "\n".join(lines))

    @cli.command("release")
    @data_option
    @cohort_period
    @json_option
    def release_command(data: Path | None, cohort: str, period: str, as_json: bool) -> None:
        """Release a cohort's window once it has ended, if k, the roster and holds allow it.

        A secure cohort's release runs its pending aggregation jobs with the helper, collects
        both aggregate shares and opens them with the collector key."""
        out = run(data, "release", cohort=cohort, period=period)
        emit(out, as_json, f"Released {cohort} {period} (n={out['n']}, release "
                           f"#{out['release_id']}) with 95% intervals.")
