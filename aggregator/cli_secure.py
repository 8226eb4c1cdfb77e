"""Secure mode's commands: the leader's `cohort add ... --helper-url` (and its task file), the
helper's `task accept`, per-person `tokens issue`, secure releases, and `vdaf-vectors`.

Like the rest of the CLI they open the data directory themselves (the server must be
stopped); a running leader issues tokens with `POST /v1/admin/tokens` and a running helper
accepts tasks with `PUT /v1/admin/tasks`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import (
    HelperPolicy,
    accept_task,
    create_task,
    task_file,
)
from worktally.aggregator.enrollment import DEFAULT_TOKEN_DAYS, issue_tokens
from worktally.aggregator.errors import PolicyViolation
from worktally.aggregator.provisioning import open_store
from worktally.aggregator.releases import Release, release
from worktally.aggregator.settings import DEFAULT_EPSILON, DEFAULT_K, DataDir
from worktally.aggregator.store import AggregatorStore
from worktally.client import paths
from worktally.client.wire.dap import b64url
from worktally.client.wire.vdaf import run_vector_directory

F = TypeVar("F", bound=Callable[..., Any])
NOISE = {"helper": 1, "both": 2}


def secure_cohort_options(func: F) -> F:
    """The options that make `cohort add` create a secure cohort."""
    options = [
        click.option("--task-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Where to write the task file for the helper "
                          "(default NAME.task.json here)."),
        click.option("--noise", type=click.Choice(sorted(NOISE)), default="helper",
                     show_default=True, help="Secure: who adds noise. helper: the org runs "
                     "leader and collector; both: the leader is a third party."),
        click.option("--leader-url", help="Secure: this leader's public base URL, as "
                     "clients and the helper reach it."),
        click.option("--helper-url", help="Make a secure cohort with the helper at this URL "
                     "(its /hpke_config is fetched now)."),
    ]
    for option in options:
        func = option(func)
    return func


@contextmanager
def _store(data: Path) -> Iterator[AggregatorStore]:
    store = open_store(DataDir(data))
    try:
        yield store
    finally:
        store.close()


def _emit(obj: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(obj, indent=2, default=str) if as_json else text)


def add_secure_cohort(data: Path, name: str, roster: int, epsilon: float | None,
                      helper_url: str, leader_url: str | None, window: str, noise: str,
                      k_min: int | None, out: Path | None, as_json: bool) -> None:
    if not leader_url:
        raise PolicyViolation("a secure cohort needs --leader-url (this leader's public URL)")
    peer = HelperClient()
    try:
        helper_hpke = peer.hpke_config(helper_url)
    finally:
        peer.close()
    with _store(data) as store:
        k_min = store.policy().k_min if k_min is None else k_min
        task = create_task(store, DataDir(data), cohort=name, roster=roster,
                           leader_url=leader_url, helper_url=helper_url,
                           helper_hpke=helper_hpke, window=window,
                           epsilon=DEFAULT_EPSILON if epsilon is None else epsilon,
                           noise_copies=NOISE[noise], k_min=k_min)
    out = out or Path(f"{name}.task.json")
    paths.write_private(out, json.dumps(task_file(task), indent=2).encode())
    summary = task.config.summary()
    _emit({"cohort": name, "task_id": b64url(task.task_id), "task_file": str(out),
           "summary": summary}, as_json,
          f"Secure cohort {name}: task {b64url(task.task_id)}\n"
          f"  roster {roster}, k {k_min}, window {window}, ε {summary['epsilon_per_release']} "
          f"per release, noise added by {noise}\n"
          f"  task file (secret; give it to the helper's operator): {out}\n"
          "Issue each person's enrollment token with `worktally-aggregator tokens issue`.")


def release_any(store: AggregatorStore, data: DataDir, cohort: str, period: str) -> Release:
    """A local-mode release, or a secure one (collect with the helper, open, store)."""
    ctx = DapContext.open(store, data, driver_interval=0)
    try:
        if ctx.is_secure(cohort):
            return ctx.release(cohort, period, "admin")
        return release(store, cohort, period, "admin")
    finally:
        ctx.close()


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def register(cli: click.Group, data_option: Decorator, json_option: Decorator) -> None:
    """Add the secure-mode command groups to the `worktally-aggregator` group."""
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
    def task_accept(file: Path, data: Path, max_epsilon: float, max_epsilon_per_year: float,
                    min_k: int, as_json: bool) -> None:
        """Review a task file from the leader and accept it, or refuse it by policy."""
        try:
            body = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicyViolation(f"{file.name} is not a readable task file: {exc}") from exc
        with _store(data) as store:
            accepted = accept_task(store, body,
                                   HelperPolicy(max_epsilon, max_epsilon_per_year, min_k))
        summary = accepted.config.summary()
        _emit({"task_id": b64url(accepted.task_id), "summary": summary}, as_json,
              f"Accepted task {b64url(accepted.task_id)} for {summary['cohort']}: "
              f"ε {summary['epsilon_per_release']} per {summary['window']}, k "
              f"{summary['k_min']}, noise by {summary['noise']} (the roster is the "
              "leader's; this helper checks k).")

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
    def tokens_issue(cohort: str, data: Path, count: int, slot: int | None, days: int,
                     as_json: bool) -> None:
        """Issue enrollment tokens (shown once; only their digests are kept)."""
        with _store(data) as store:
            issued = issue_tokens(store, cohort, count, slot, days)
        rows = [{"cohort": t.cohort, "slot": t.slot, "token": t.token,
                 "expires_at": t.expires_at.isoformat()} for t in issued]
        _emit({"tokens": rows}, as_json, "\n".join(
            f"slot {t.slot}: {t.token} (expires {t.expires_at.date().isoformat()})"
            for t in issued))

    @cli.command("vdaf-vectors")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
    def vdaf_vectors(directory: Path) -> None:
        """Check the Prio3 implementation against a folder of the draft's test vectors."""
        passed = failed = 0
        for result in run_vector_directory(directory):
            if result.skipped:
                click.echo(f"skip {result.name}: {result.detail}")
            elif result.passed:
                passed += 1
                click.echo(f"pass {result.name}")
            else:
                failed += 1
                click.echo(f"FAIL {result.name}: {result.detail}")
        click.echo(f"{passed} passed, {failed} failed")
        if failed:
            sys.exit(1)
