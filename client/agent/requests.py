"""What the agent does for each control request; also run in-process by a CLI holding the lock.

One dispatch table serves both paths, so `worktally commits` prints the same JSON whether an
agent answered it or the CLI opened the database itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from worktally.client.agent import pipeline
from worktally.client.attribution import local_view
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.config import Config
from worktally.client.errors import WorktallyError
from worktally.client.interop import agent_commands as interop_commands
from worktally.client.report import agent_commands
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import queries
from worktally.client.wire import periods

T = TypeVar("T")
RunDb = Callable[[Callable[[duckdb.DuckDBPyConnection], Any]], Any]


@dataclass(frozen=True)
class RequestContext:
    keyer: LineKeyer
    registry: RepoRegistry
    cfg: Config
    # Runs a function with the DuckDB connection: via the owner thread, or directly.
    run_db: RunDb
    agent: bool
    # Runs a read-only function: on a read cursor in the agent; run_db when None.
    run_read: RunDb | None = None
    on_repos_changed: Callable[[], None] = lambda: None
    extra_status: Callable[[], dict[str, Any]] = dict


def _read(ctx: RequestContext, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
    return (ctx.run_read or ctx.run_db)(fn)


def _status(ctx: RequestContext, _request: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    result = dict(_read(ctx, lambda con: queries.status(con, now)))
    result["paused"] = pipeline.is_paused()
    result["agent"] = ctx.agent
    result["repos"] = len(ctx.registry.list())
    result.update(ctx.extra_status())
    return result


def _sync(ctx: RequestContext, _request: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    counts: pipeline.SyncCounts = ctx.run_db(
        lambda con: pipeline.run_sync(con, ctx.keyer, ctx.registry, ctx.cfg, now)
    )
    if counts.registrations:
        ctx.on_repos_changed()
    return counts.to_json()


Query = Callable[[duckdb.DuckDBPyConnection, dict[str, Any], Config], dict[str, Any]]


def _local_day(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise WorktallyError(f"'{name}' must be a date like 2026-03-01") from exc


def _day_start(day: dt.date) -> dt.datetime:
    """Local midnight at the start of `day`."""
    return dt.datetime.combine(day, dt.time()).astimezone()


def _positive_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorktallyError(f"'{name}' must be a whole number of at least 1")
    return value


def _query_commits(con: duckdb.DuckDBPyConnection, args: dict[str, Any],
                   _cfg: Config) -> dict[str, Any]:
    repo_id = args.get("repo_id")
    since = args.get("since")
    rows = queries.commits(
        con, repo_id if isinstance(repo_id, str) else None,
        since=_day_start(_local_day(since, "since")) if since is not None else None,
        limit=_positive_int(args.get("limit"), "limit"),
    )
    return {"commits": [row.to_json() for row in rows]}


def me_range(args: dict[str, Any], now: float) -> tuple[dt.datetime, dt.datetime, str | None]:
    """[start, end) in local time and the week's name: --week, or --since/--until (days,
    both included), or this week."""
    since, until, week = args.get("since"), args.get("until"), args.get("week")
    if week is not None and (since is not None or until is not None):
        raise WorktallyError("give either a week or a --since/--until range, not both")
    if since is None and until is None:
        iso = periods.parse_week(str(week or queries.current_week(now)))
        start, end = periods.local_bounds(iso)
        return start, end, str(iso)
    if since is None:
        raise WorktallyError("--until needs --since (the first day of the range)")
    first = _local_day(since, "since")
    last = (_local_day(until, "until") if until is not None
            else dt.datetime.fromtimestamp(now).date())
    if last < first:
        raise WorktallyError("--until is before --since")
    return _day_start(first), _day_start(last + dt.timedelta(days=1)), None


def _query_me(con: duckdb.DuckDBPyConnection, args: dict[str, Any],
              cfg: Config) -> dict[str, Any]:
    """The developer's own period: edits, committed lines by class, AI use and its cost."""
    start, end, week = me_range(args, time.time())
    view = local_view.me_view(con, start, end, cfg, week=week, daily=bool(args.get("daily")))
    return view.to_json()


QUERIES: dict[str, Query] = {
    "commits": _query_commits,
    "me": _query_me,
}


def _query(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request.get("name")
    fn = QUERIES.get(name) if isinstance(name, str) else None
    if fn is None:
        raise WorktallyError(f"unknown query {name!r}; known: {', '.join(sorted(QUERIES))}")
    args = request.get("args") or {}
    if not isinstance(args, dict):
        raise WorktallyError("query args must be an object")
    result: dict[str, Any] = _read(ctx, lambda con: fn(con, args, ctx.cfg))
    return result


def _repo_dict(repo: Any) -> dict[str, Any]:
    return {"repo_id": repo.repo_id, "path": repo.path, "added_at": repo.added_at}


def _repos_add(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    path = request.get("path")
    if not isinstance(path, str) or not path:
        raise WorktallyError("repos_add needs a 'path'")
    repo = ctx.registry.add(Path(path))
    ctx.on_repos_changed()
    return _repo_dict(repo)


def _repos_remove(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    target = request.get("path")
    if not isinstance(target, str) or not target:
        raise WorktallyError("repos_remove needs a 'path' (or a repo id)")
    repo = ctx.registry.remove(target)
    if repo is None:
        raise WorktallyError("that repo is not registered; see `worktally repos list`")
    ctx.on_repos_changed()
    return _repo_dict(repo)


def _repos_list(ctx: RequestContext, _request: dict[str, Any]) -> dict[str, Any]:
    return {"repos": [_repo_dict(r) for r in ctx.registry.list()]}


def _forget(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    before_raw = request.get("before")
    before: dt.datetime | None = None
    if before_raw is not None:
        try:
            before = dt.datetime.fromisoformat(str(before_raw))
        except ValueError as exc:
            raise WorktallyError("forget 'before' must be an ISO date like 2026-01-31") from exc
        if before.tzinfo is None:
            before = before.astimezone()
    elif not request.get("all"):
        raise WorktallyError("forget needs 'all': true or a 'before' date")
    deleted = ctx.run_db(lambda con: queries.forget(con, before))
    return {"deleted": deleted}


HANDLERS: dict[str, Callable[[RequestContext, dict[str, Any]], dict[str, Any]]] = {
    "status": _status,
    "sync": _sync,
    "query": _query,
    "repos_add": _repos_add,
    "repos_remove": _repos_remove,
    "repos_list": _repos_list,
    "forget": _forget,
    # The report's requests (prepare, record uploads, read the log) run here too.
    **agent_commands.HANDLERS,
    # git-ai notes, Agent Trace export and a repo's notes mode.
    **interop_commands.HANDLERS,
}


def handle(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Carry out one request; WorktallyError for anything the caller got wrong."""
    cmd = request.get("cmd")
    handler = HANDLERS.get(cmd) if isinstance(cmd, str) else None
    if handler is None:
        raise WorktallyError(f"unknown agent command {cmd!r}")
    return handler(ctx, request)
