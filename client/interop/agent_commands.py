"""The interop requests to the database owner: import git-ai notes, export Agent Trace
records, set a repo's git-ai notes mode.

They run in the agent when one runs, else in the CLI under the agent lock;
`worktally.client.agent.requests` lists `HANDLERS` in its dispatch table.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from importlib import metadata
from typing import Any, Protocol

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.config import Config
from worktally.client.errors import GitError, WorktallyError
from worktally.client.interop import agent_trace, agent_trace_check, git_ai_import
from worktally.client.repos.registry import Repo, RepoRegistry

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
RunDb = Callable[[Callable[[Connection], Any]], Any]


class Context(Protocol):
    @property
    def keyer(self) -> LineKeyer: ...

    @property
    def registry(self) -> RepoRegistry: ...

    @property
    def cfg(self) -> Config: ...

    @property
    def run_db(self) -> RunDb: ...


Handler = Callable[[Any, dict[str, Any]], dict[str, Any]]


def repo_json(repo: Repo) -> dict[str, Any]:
    return {"repo_id": repo.repo_id, "path": repo.path, "added_at": repo.added_at,
            "git_ai_notes": repo.git_ai_notes}


def _repos(ctx: Context, request: dict[str, Any]) -> list[Repo]:
    """The one repo a request names (by id), or every registered repo."""
    repo_id = request.get("repo_id")
    if repo_id is None:
        return ctx.registry.list()
    repo = ctx.registry.get(str(repo_id))
    if repo is None:
        raise WorktallyError("that folder is not in a registered repo; add it with "
                             "`worktally repos add PATH`")
    return [repo]


def _git_ai_import(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    repos = _repos(ctx, request)
    total = git_ai_import.ReadCounts()
    per_repo = []
    for repo in repos:
        counts: git_ai_import.ReadCounts = ctx.run_db(_importer(ctx, repo))
        total.add(counts)
        per_repo.append({"repo_id": repo.repo_id, "path": repo.path, **counts.to_json()})
    return {"repos": per_repo, **total.to_json()}


def _importer(ctx: Context, repo: Repo) -> Callable[[Connection], git_ai_import.ReadCounts]:
    return lambda con: git_ai_import.import_repo(con, ctx.keyer, repo, ctx.cfg)


def _exporter(ctx: Context, repo: Repo, since: dt.datetime | None,
              hashes: bool) -> Callable[[Connection], list[dict[str, Any]]]:
    version = _version()
    return lambda con: list(agent_trace.records(con, ctx.keyer, repo, version, since=since,
                                                content_hashes=hashes))


def _since(request: dict[str, Any]) -> dt.datetime | None:
    raw = request.get("since")
    if raw is None:
        return None
    try:
        day = dt.date.fromisoformat(str(raw))
    except ValueError as exc:
        raise WorktallyError("'since' must be a date like 2026-03-01") from exc
    return dt.datetime.combine(day, dt.time()).astimezone()


def _version() -> str:
    try:
        return metadata.version("worktally")
    except metadata.PackageNotFoundError:
        return "unknown"


def _trace_export(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    repos = _repos(ctx, request)
    since = _since(request)
    hashes = bool(request.get("content_hashes"))
    run = getattr(ctx, "run_read", None) or ctx.run_db
    out: list[dict[str, Any]] = []
    errors = 0
    for repo in repos:
        try:
            found: list[dict[str, Any]] = run(_exporter(ctx, repo, since, hashes))
        except (GitError, OSError) as exc:
            errors += 1
            log.warning("repo %s left out of the trace export: %s", repo.repo_id,
                        type(exc).__name__)
            continue
        for record in found:
            wrong = agent_trace_check.problems(record, strict=True)
            if wrong:
                # A record that breaks the spec is a worktally bug: never write it.
                raise WorktallyError("an Agent Trace record failed its own check ("
                                     + "; ".join(wrong[:3]) + "); please report this")
        out.extend(found)
    return {"records": out, "repos": len(repos) - errors, "repo_errors": errors}


def _repos_set(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    target, mode = request.get("path"), request.get("git_ai_notes")
    if not isinstance(target, str) or not target or not isinstance(mode, str):
        raise WorktallyError("repos_set needs a 'path' (or repo id) and 'git_ai_notes'")
    repo = ctx.registry.set_git_ai_notes(target, mode)
    if repo is None:
        raise WorktallyError("that repo is not registered; see `worktally repos list`")
    return repo_json(repo)


HANDLERS: dict[str, Handler] = {
    "git_ai_import": _git_ai_import,
    "trace_export": _trace_export,
    "repos_set": _repos_set,
}
