"""`worktally import <tool> [PATH]`: a one-off import of one AI tool's logs (the tools are
listed in `client/importers/tools.py`).

With no agent running the command takes the agent lock and imports incrementally into the
DB; while an agent owns the DB it parses the files whole and spools the records, which are
idempotent, so the agent stores each request and edit once however often they arrive.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from worktally.client import config
from worktally.client.agent.lock import AgentLock
from worktally.client.capture.line_keys import LineKeyer, default_keyer
from worktally.client.capture.spool import Spool
from worktally.client.cli import SubcommandGroup
from worktally.client.cli.output import echo_json
from worktally.client.errors import ImportFormatError
from worktally.client.importers import locations
from worktally.client.importers.context import ImportContext
from worktally.client.repos.registry import RepoRegistry

if TYPE_CHECKING:
    from worktally.client.importers.runner import ImportSummary

# Below this many bytes a progress bar would only flicker.
PROGRESS_MIN_BYTES = 20 * 1024 * 1024
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")
# DuckDB's share of a one-off import's memory: the import streams, so only DuckDB's cache of
# what it wrote would otherwise grow with the logs (bench/bench_memory.py).
IMPORT_DB_MEMORY = "256MB"


def summary_json(summary: ImportSummary) -> dict[str, Any]:
    """The `--json` document: tokens per model and in total, sessions, edits, bad lines."""
    models = summary.model_totals()
    totals = dict.fromkeys((*TOKEN_FIELDS, "total_tokens"), 0)
    for row in models.values():
        for name, value in row.items():
            totals[name] += value
    counts = summary.counts()
    return {"models": models, "totals": totals, "sessions": counts["sessions"],
            "edits": counts["edits"], "malformed_lines": summary.malformed_lines,
            "files": summary.files}


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    if total < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield None
        return
    # Imported here: most imports run without a terminal, and rich's bar costs start-up.
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task("importing", total=total)
        yield lambda n: bar.advance(task, n)


def _files(tool: str, path: Path | None, cfg: config.Config, registry: RepoRegistry) -> list[Path]:
    if path is not None:
        if not path.exists():
            raise ImportFormatError(f"{path} does not exist; give a log file or folder")
        return locations.log_files(tool, locations.tool_root(tool, path))
    return locations.default_files(tool, cfg, registry)


def run_import(tool: str, path: Path | None) -> tuple[ImportSummary, bool]:
    """Import and return (summary, spooled): spooled when a running agent owns the DB."""
    cfg = config.load()
    keyer = default_keyer()
    registry = RepoRegistry(keyer)
    files = _files(tool, path, cfg, registry)
    size = sum(f.stat().st_size for f in files)
    lock = AgentLock()
    with _progress(size) as progress:
        if lock.try_acquire():
            try:
                return _import_locked(tool, files, size, keyer, registry, progress), False
            finally:
                lock.release()
        from worktally.client.importers.runner import parse_whole

        ctx = ImportContext(keyer=keyer, registry=registry)
        summary, records = parse_whole(ctx, tool, files, progress)
    Spool().write(records)
    return summary, True


def _import_locked(tool: str, files: list[Path], size: int, keyer: LineKeyer,
                   registry: RepoRegistry, progress: Callable[[int], None] | None
                   ) -> ImportSummary:
    """The import into the database. Parse children that a large import will want start
    before DuckDB is even imported, so their start-up overlaps opening the database."""
    from worktally.client.importers import workers

    if len(files) > 1 and size >= workers.PRESTART_MIN_BYTES:
        workers.prestart(workers.worker_count())
    try:
        from worktally.client.importers.run import import_tool
        from worktally.client.store import db

        con = db.connect(memory_limit=IMPORT_DB_MEMORY)
        try:
            return import_tool(con, keyer, registry, tool, files, progress)
        finally:
            con.close()
    finally:
        workers.release()


def _render(tool: str, data: dict[str, Any], spooled: bool) -> None:
    t = data["totals"]
    click.echo(f"{tool}: {data['files']} file(s), {data['sessions']} session(s), "
               f"{data['edits']} edit(s), {data['malformed_lines']} malformed line(s) skipped")
    click.echo(f"tokens: input {t['input_tokens']:,} · output {t['output_tokens']:,} · "
               f"cache write {t['cache_creation_tokens']:,} · cache read "
               f"{t['cache_read_tokens']:,} · total {t['total_tokens']:,}")
    if spooled:
        click.echo("the running agent stores these records on its next drain")


def _command(tool: str) -> click.Command:
    @click.command(name=tool, help=f"Import {tool} logs (default: its usual locations).")
    @click.argument("path", required=False, type=click.Path(path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys).")
    def command(path: Path | None, as_json: bool) -> None:
        summary, spooled = run_import(tool, path)
        data = summary_json(summary)
        if as_json:
            echo_json({**data, "spooled": spooled})
        else:
            _render(tool, data, spooled)

    return command


@click.group(name="import", cls=SubcommandGroup)
def import_group() -> None:
    """Import AI tools' own logs (tokens, sessions, agent edits) once, now."""


for _tool in locations.TOOLS:
    import_group.add_command(_command(_tool))


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(import_group)
