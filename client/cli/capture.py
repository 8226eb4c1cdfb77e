"""Commands of the `worktally` CLI for local capture: status, repos, pause, commits, me, forget,
agent and sync. Every command takes `--json`; its keys are a contract for scripts and tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from worktally.client import logging_setup, paths
from worktally.client.agent.access import call
from worktally.client.agent.lock import is_held
from worktally.client.capture.line_keys import default_keyer
from worktally.client.capture.records import SOURCES
from worktally.client.capture.spool import Spool
from worktally.client.cli import SubcommandGroup
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


@click.group(cls=SubcommandGroup)
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
    repos = registry.list()
    data = [{"repo_id": r.repo_id, "path": r.path, "added_at": r.added_at,
             "git_ai_notes": r.git_ai_notes} for r in repos]

    def render(console: Console) -> None:
        table = Table("repo id", "path", "git-ai notes")
        for repo in repos:
            table.add_row(repo.repo_id, repo.path, repo.git_ai_notes)
        console.print(table if repos else "no repos registered; add one with `worktally repos add`")

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


_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day_arg(value: dt.datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


def _repo_names(registry: RepoRegistry) -> dict[str, str]:
    """repo_id -> local path, from repos.json (the database never holds a path)."""
    return {r.repo_id: r.path for r in registry.list()}


def _repo_label(path: str | None, repo_id: str | None) -> str:
    if repo_id is None:
        return "(no repo)"
    return Path(path).name if path else repo_id


@click.command()
@click.option("--repo", "repo_path", type=click.Path(exists=True, path_type=Path),
              help="Only commits of the work tree containing this folder.")
@click.option("--since", type=_DAY, help="Only commits made on or after this day (YYYY-MM-DD, "
              "local time).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (the newest).")
@json_option
def commits(repo_path: Path | None, since: dt.datetime | None, limit: int | None,
            as_json: bool) -> None:
    """List attributed commits: each line is ai, ai_modified, human, bulk, external or unknown."""
    registry = RepoRegistry(default_keyer())
    args: dict[str, Any] = {"since": _day_arg(since), "limit": limit}
    if repo_path is not None:
        args["repo_id"] = registry.repo_id_for(work_tree_root(repo_path))
    result, _ = call({"cmd": "query", "name": "commits", "args": args})
    known = _repo_names(registry)
    rows = [{**c, "repo": known.get(c["repo_id"])} for c in result["commits"]]

    def render(console: Console) -> None:
        table = Table(box=box.SIMPLE)
        table.add_column("sha", no_wrap=True, min_width=10)
        table.add_column("repo", overflow="fold")
        for name in ("added", "ai", "ai mod", "human", "bulk", "ext", "unkn"):
            table.add_column(name, justify="right")
        table.add_column("ai by tool", overflow="fold")
        for r in rows:
            tools = ", ".join(f"{t} {n}" for t, n in sorted(r["ai_by_tool"].items()))
            table.add_row(r["sha"][:10], _repo_label(r["repo"], r["repo_id"]),
                          str(r["lines_added"]), str(r["ai_lines"]),
                          str(r["ai_modified_lines"]), str(r["human_lines"]),
                          str(r["bulk_lines"]), str(r["external_lines"]),
                          str(r["unknown_lines"]), tools)
        console.print(table if rows else "no attributed commits yet (try `worktally sync`)")

    emit(as_json, rows, render)


def _cost(usage: dict[str, Any]) -> str:
    """A cost for people: "unpriced" when no token had a price, never $0 for unknown models."""
    if not usage["tokens"]:
        return "-"
    if usage["cost_usd"] is None:
        return "unpriced"
    text = f"${usage['cost_usd']:.2f}"
    return f"{text} + unpriced" if usage["unpriced_tokens"] else text


def _share(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 10:.1f}%"


def _classes(lines: dict[str, Any]) -> str:
    """Committed lines as ai/ai modified/human/bulk/external/unknown."""
    return "/".join(str(lines[k]) for k in ("ai", "ai_modified", "human", "bulk", "external",
                                            "unknown"))


def _table(title: str, first: str, *columns: str, names: list[str] | None = None) -> Table:
    """A narrow table: names in the first column stay whole (up to 40 characters)."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    widest = max((len(n) for n in names or []), default=0)
    table.add_column(first, no_wrap=True, min_width=min(max(widest, len(first)), 40))
    for name in columns:
        table.add_column(name, justify="right", overflow="fold")
    return table


CLASSES_HEADER = "ai/mod/hum/bulk/ext/unk"


def _me_render(result: dict[str, Any], names: dict[str, str], console: Console) -> None:
    title = (f"week {result['week']}" if result["week"]
             else f"{result['start'][:10]} to {result['end'][:10]} (end excluded)")
    console.print(f"[bold]{title}[/bold]")
    console.print("lines edited: " + ", ".join(
        f"{source} {n}" for source, n in result["edit_lines"].items()))
    lines = result["committed_lines"]
    console.print(
        f"commits: {result['commits']}, lines added: {lines['added']} (ai {lines['ai']}, "
        f"ai modified {lines['ai_modified']}, human {lines['human']}, bulk {lines['bulk']}, "
        f"external {lines['external']}, unknown {lines['unknown']})")
    console.print(f"AI share of observed lines: {_share(result['ai_share_pm'])} "
                  f"({lines['observed']} observed)")
    if result["mostly_unknown"]:
        console.print("[yellow]Most committed lines are unknown (worktally did not see them "
                      "written): a week like this would not be reported.[/yellow]")
    for key in ("ai_committed_by_tool", "ai_committed_by_kind"):
        if result[key]:
            console.print(key.replace("_", " ") + ": " + ", ".join(
                f"{k} {v}" for k, v in sorted(result[key].items())))
    surv = result["survival"]
    rate = "n/a" if surv["rate"] is None else f"{surv['rate']:.0%}"
    console.print(f"survival: {surv['ai_lines_surviving']}/{surv['ai_lines_checked']} "
                  f"AI lines ({rate})")
    usage = result["ai_usage"]
    if usage["tokens_total"] or any(usage["sessions"].values()):
        spent = f"${usage['cost_usd']:.2f}" + (" + unpriced" if usage["unpriced_models"] else "")
        outcomes = _table(f"AI sessions: {usage['tokens_total']:,} tokens, {spent}",
                          "outcome", "sessions", "tokens")
        for outcome, n in usage["sessions"].items():
            outcomes.add_row(outcome, str(n), f"{usage['tokens'][outcome]:,}")
        console.print(outcomes)
    if result["by_tool"]:
        tools = _table("by tool", "tool", "sessions", "tokens", "cost", "ai lines", "ai mod.")
        for tool, row in result["by_tool"].items():
            tools.add_row(tool, str(row["sessions"]), f"{row['usage']['tokens']:,}",
                          _cost(row["usage"]), str(row["ai_lines"]),
                          str(row["ai_modified_lines"]))
        console.print(tools)
    if result["by_model"]:
        models = _table("by model", "model", "input", "output", "cache w/r", "cost",
                        names=list(result["by_model"]))
        for model, row in result["by_model"].items():
            u = row["usage"]
            models.add_row(model, f"{u['input_tokens']:,}", f"{u['output_tokens']:,}",
                           f"{u['cache_creation_tokens']:,}/{u['cache_read_tokens']:,}",
                           _cost(u))
        console.print(models)
    if result["by_repo"]:
        labels = [_repo_label(names.get(row["repo_id"] or ""), row["repo_id"])
                  for row in result["by_repo"]]
        repos = _table("by repo (local names)", "repo", "commits", CLASSES_HEADER, "AI share",
                       "tokens", "cost", names=labels)
        for label, row in zip(labels, result["by_repo"], strict=True):
            c = row["committed_lines"]
            repos.add_row(label,
                          str(row["commits"]), _classes(c), _share(c["ai_share_pm"]),
                          f"{row['usage']['tokens']:,}", _cost(row["usage"]))
        console.print(repos)
    if result["days"] is not None:
        days = _table("by day", "day", "edited", "commits", CLASSES_HEADER, "AI share",
                      "tokens", "cost")
        for row in result["days"]:
            c = row["committed_lines"]
            days.add_row(row["date"], str(sum(row["edit_lines"].values())),
                         str(row["commits"]), _classes(c), _share(c["ai_share_pm"]),
                         f"{row['usage']['tokens']:,}", _cost(row["usage"]))
        console.print(days)


@click.command()
@click.option("--week", help="ISO week like 2026-W09 (default: this week).")
@click.option("--since", type=_DAY, help="First day (YYYY-MM-DD, local time), instead of a week.")
@click.option("--until", type=_DAY, help="Last day, included (default: today).")
@click.option("--daily", is_flag=True, help="Also break the period down day by day.")
@json_option
def me(week: str | None, since: dt.datetime | None, until: dt.datetime | None, daily: bool,
       as_json: bool) -> None:
    """Your own AI use and committed lines, by tool, model and repo (never leaves the machine)."""
    if week is not None and (since is not None or until is not None):
        raise click.UsageError("give either --week or --since/--until, not both")
    if until is not None and since is None:
        raise click.UsageError("--until needs --since")
    args = {"week": week, "since": _day_arg(since), "until": _day_arg(until), "daily": daily}
    result, _ = call({"cmd": "query", "name": "me", "args": args})
    names = _repo_names(RepoRegistry(default_keyer()))
    for row in result["by_repo"]:
        row["repo"] = names.get(row["repo_id"]) if row["repo_id"] else None
    emit(as_json, result, lambda console: _me_render(result, names, console))


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

