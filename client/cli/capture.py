"""Commands of the `worktally` CLI for local capture: status, repos, pause, commits, me, forget,
agent and sync. Every command takes `--json`; its keys are a contract for scripts and tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from worktally.client import logging_setup, paths
from worktally.client.agent.access import call
from worktally.client.agent.lock import is_held
from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.records import SOURCES
from worktally.client.capture.spool import Spool
from worktally.client.cli.output import emit, json_option
from worktally.client.repos.registry import RepoRegistry, work_tree_root

SYNC_TIMEOUT_S = 600.0




def _status_data() -> dict[str, Any]:
    result, via_agent = call({"cmd": "status"})
    today = {source: int(result.get(source, 0)) for source in SOURCES}
    return {
        "agent": {
            "running": via_agent,
            "pid": result.get("pid") if via_agent else None,
            "last_sync": result.get("last_sync") if via_agent else None,
        },
        "paused": bool(result.get("paused", False)),
        "repos": int(result.get("repos", 0)),
        "today": today,
        "edits_total": int(result.get("edits_total", 0)),
        "commits_total": int(result.get("commits_total", 0)),
        "spool_pending": len(Spool().pending()),
        "last_sync": _last_sync(),
        "report": call({"cmd": "report_status"})[0],
    }


def _last_sync() -> str | None:
    try:
        return paths.last_sync_path().read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Show the agent, what is watched, today's lines, enrollment and the privacy budget."""
    data = _status_data()

    def render(console: Console) -> None:
        agent = data["agent"]
        running = f"running (pid {agent['pid']})" if agent["running"] else "not running"
        console.print(f"agent:   {running}")
        console.print(f"paused:  {'yes' if data['paused'] else 'no'}")
        console.print(f"repos:   {data['repos']}")
        console.print(f"pending: {data['spool_pending']} spool batches")
        console.print(f"synced:  {data['last_sync'] or 'never'}")
        report = data["report"]
        enrolled = report["enrollment"]
        if enrolled:
            console.print(f"enrolled: cohort {enrolled['cohort']} ({enrolled['mode']} mode), "
                          f"one release per {enrolled['window_kind']} at "
                          f"ε={enrolled['epsilon_per_release']:g}")
        else:
            console.print("enrolled: no (`worktally report preview` shows what would leave)")
        last = report["last_report"]
        shown = f"{last['window']} (accepted {last['accepted_at']})" if last else "never"
        console.print(f"reported: {shown}")
        year = report["budget"]
        console.print(f"budget:  ε {year['spent']:g} of {year['cap']:g} spent in "
                      f"{year['year']} ({year['left']:g} left)")
        table = Table(title="today's inserted lines")
        for source in SOURCES:
            table.add_column(source, justify="right")
        table.add_row(*(str(data["today"][s]) for s in SOURCES))
        console.print(table)

    emit(as_json, data, render)


@click.group()
def repos() -> None:
    """Register, list and remove the git work trees worktally watches."""


@repos.command("add")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
def repos_add(path: Path, as_json: bool) -> None:
    """Watch the git work tree containing PATH."""
    repo, _ = call({"cmd": "repos_add", "path": str(path.resolve())})
    emit(as_json, repo, lambda c: c.print(f"watching {repo['path']} (id {repo['repo_id']})"))


@repos.command("list")
@json_option
def repos_list(as_json: bool) -> None:
    """List the watched work trees."""
    registry = RepoRegistry(default_keyer())
    data = [{"repo_id": r.repo_id, "path": r.path, "added_at": r.added_at}
            for r in registry.list()]

    def render(console: Console) -> None:
        table = Table("repo id", "path")
        for row in data:
            table.add_row(row["repo_id"], row["path"])
        console.print(table if data else "no repos registered; add one with `worktally repos add`")

    emit(as_json, data, render)


@repos.command("remove")
@click.argument("path_or_id")
@json_option
def repos_remove(path_or_id: str, as_json: bool) -> None:
    """Stop watching a work tree (its recorded rows stay until `worktally forget`)."""
    repo, _ = call({"cmd": "repos_remove", "path": path_or_id})
    emit(as_json, repo, lambda c: c.print(f"no longer watching {repo['path']}"))


@click.command()
@json_option
def pause(as_json: bool) -> None:
    """Stop recording edits until `worktally resume`."""
    paths.write_private(paths.paused_flag(), b"paused\n")
    emit(as_json, {"paused": True}, lambda c: c.print("recording paused"))


@click.command()
@json_option
def resume(as_json: bool) -> None:
    """Record edits again."""
    paths.paused_flag().unlink(missing_ok=True)
    emit(as_json, {"paused": False}, lambda c: c.print("recording resumed"))


@click.command()
@click.option("--repo", "repo_path", type=click.Path(exists=True, path_type=Path),
              help="Only commits of the work tree containing this folder.")
@json_option
def commits(repo_path: Path | None, as_json: bool) -> None:
    """List attributed commits: lines added, AI lines by tool, human, bulk and external."""
    registry = RepoRegistry(default_keyer())
    args: dict[str, Any] = {}
    if repo_path is not None:
        args["repo_id"] = registry.repo_id_for(work_tree_root(repo_path))
    result, _ = call({"cmd": "query", "name": "commits", "args": args})
    known = {r.repo_id: r.path for r in registry.list()}
    rows = [{**c, "repo": known.get(c["repo_id"])} for c in result["commits"]]

    def render(console: Console) -> None:
        table = Table("sha", "repo", "added", "ai", "human", "bulk", "external", "ai by tool")
        for r in rows:
            tools = ", ".join(f"{t} {n}" for t, n in sorted(r["ai_by_tool"].items()))
            table.add_row(r["sha"][:10], Path(r["repo"]).name if r["repo"] else r["repo_id"],
                          str(r["lines_added"]), str(r["ai_lines"]), str(r["human_lines"]),
                          str(r["bulk_lines"]), str(r["external_lines"]), tools)
        console.print(table if rows else "no attributed commits yet (try `worktally sync`)")

    emit(as_json, rows, render)


def _usage_table(usage: dict[str, Any]) -> Table:
    """AI sessions, tokens and cost by outcome, then by tool."""
    table = Table("", "sessions", "tokens", "cost (USD)",
                  title=f"AI use: {usage['tokens_total']} tokens, ${usage['cost_usd']:.2f}")
    for outcome, n in usage["sessions"].items():
        table.add_row(outcome, str(n), str(usage["tokens"][outcome]),
                      f"{usage['cost_usd_by_outcome'][outcome]:.2f}")
    for tool, row in usage["by_tool"].items():
        table.add_row(f"tool: {tool}", str(row["sessions"]), str(row["tokens"]),
                      f"{row['cost_usd']:.2f}")
    return table


@click.command()
@click.option("--week", help="ISO week like 2026-W09 (default: this week).")
@json_option
def me(week: str | None, as_json: bool) -> None:
    """Your own week: edits by source, commits, AI lines by tool and kind, survival."""
    result, _ = call({"cmd": "query", "name": "me", "args": {"week": week}})

    def render(console: Console) -> None:
        console.print(f"[bold]week {result['week']}[/bold]")
        edits = Table("source", "lines edited", title="edits")
        for source, n in result["edit_lines"].items():
            edits.add_row(source, str(n))
        console.print(edits)
        lines = result["committed_lines"]
        console.print(f"commits: {result['commits']}  lines added: {lines['added']}  "
                      f"ai: {lines['ai']}  human: {lines['human']}  bulk: {lines['bulk']}  "
                      f"external: {lines['external']}")
        for title in ("ai_committed_by_tool", "ai_committed_by_kind"):
            if result[title]:
                console.print(title.replace("_", " ") + ": " + ", ".join(
                    f"{k} {v}" for k, v in sorted(result[title].items())))
        surv = result["survival"]
        rate = "n/a" if surv["rate"] is None else f"{surv['rate']:.0%}"
        console.print(f"survival: {surv['ai_lines_surviving']}/{surv['ai_lines_checked']} "
                      f"AI lines ({rate})")
        usage = result.get("ai_usage")
        if usage:
            console.print(_usage_table(usage))

    emit(as_json, result, render)


@click.command()
@click.option("--all", "forget_all", is_flag=True, help="Delete every local row.")
@click.option("--before", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Delete rows dated before this day (YYYY-MM-DD, local time).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def forget(forget_all: bool, before: dt.datetime | None, yes: bool, as_json: bool) -> None:
    """Delete locally recorded edits, commits, sessions and tokens."""
    if forget_all == (before is not None):
        raise click.UsageError("give exactly one of --all or --before DATE")
    what = "ALL local worktally data" if forget_all else f"local data before {before:%Y-%m-%d}"
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    request: dict[str, Any] = {"cmd": "forget", "all": forget_all}
    if before is not None:
        request["before"] = before.astimezone().isoformat()
    result, _ = call(request, timeout=SYNC_TIMEOUT_S)
    emit(as_json, result, lambda c: c.print(
        f"deleted {sum(result['deleted'].values())} rows"))


@click.command()
@click.option("-v", "--verbose", count=True, help="More log detail (DEBUG may name files).")
@click.option("--sync-interval", type=float, default=60.0, show_default=True,
              help="Seconds between full pipeline runs.")
def agent(verbose: int, sync_interval: float) -> None:
    """Run the local agent in the foreground (the only owner of the database)."""
    from worktally.client.agent.service import Agent

    logging_setup.configure("agent", verbose=verbose)
    Agent(sync_interval_s=sync_interval).run()


@click.command()
@json_option
def sync(as_json: bool) -> None:
    """Process everything pending now (through the agent if it runs)."""
    if not is_held():
        logging_setup.configure("cli", quiet=True)
    result, via_agent = call({"cmd": "sync"}, timeout=SYNC_TIMEOUT_S)
    data = {**result, "via": "agent" if via_agent else "local"}
    emit(as_json, data, lambda c: c.print(
        f"synced via {data['via']}: {data['batches']} batches, {data['records']} records, "
        f"{data['commits']} commits"))


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    for command in (status, repos, pause, resume, commits, me, forget, agent, sync):
        group.add_command(command)

