"""Parses transcript files in child processes, so a large import uses every core.

The children are plain `python -m worktally.client.importers.parse_child` processes fed
pickled jobs over a pipe; they only parse and key lines and never open the database, which
stays with the parent. multiprocessing's spawn would re-run a console script's module in
every child, and fork is unsafe next to DuckDB's and the agent's threads.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from worktally.client.importers import offsets
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.context import ImportContext
from worktally.client.importers.reading import read_file

log = logging.getLogger(__name__)

# One job's files together read about this many new bytes (a job is one round trip).
JOB_BYTES = 4 * 1024 * 1024
CHILD_MODULE = "worktally.client.importers.parse_child"
PYTHON = sys.executable  # children run this very interpreter
# A child is asked to stop this long before it is killed.
STOP_TIMEOUT_S = 10.0
_FRAME = struct.Struct("<Q")

# (batch, cursor after it, lines read): one slice of a file, as `reading.read_new_lines` yields.
Slice = tuple[ImportBatch, offsets.Cursor, int]


@dataclass(frozen=True)
class FileJob:
    """One file to read from its remembered cursor (None: from the start)."""

    path: Path
    previous: offsets.Cursor | None


@dataclass(frozen=True)
class FileResult:
    """A file's slices, or why it could not be read this run."""

    path: Path
    slices: tuple[Slice, ...]
    error: str | None = None


def parse_job(ctx: ImportContext, tool: str, jobs: Sequence[FileJob]) -> list[FileResult]:
    """Read each file's new lines (in this process); the unit a child runs."""

    out: list[FileResult] = []
    for job in jobs:
        known = {} if job.previous is None else {job.previous.file_key: job.previous}
        try:
            slices = tuple(read_file(known, ctx, tool, job.path))
        except OSError as exc:
            out.append(FileResult(job.path, (), exc.strerror or type(exc).__name__))
            continue
        out.append(FileResult(job.path, slices))
    return out


def worker_count() -> int:
    """Children to start: one per usable core, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def split_jobs(jobs: Sequence[tuple[FileJob, int]]) -> list[list[FileJob]]:
    """Consecutive groups of files of about JOB_BYTES new bytes, in the given order."""
    groups: list[list[FileJob]] = []
    current: list[FileJob] = []
    size = 0
    for job, new_bytes in jobs:
        current.append(job)
        size += new_bytes
        if size >= JOB_BYTES:
            groups.append(current)
            current, size = [], 0
    if current:
        groups.append(current)
    return groups


class WorkerCrashed(RuntimeError):
    """A child died or answered garbage; its job is parsed in the parent instead."""


def _send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    (length,) = _FRAME.unpack(head)
    data = stream.read(length)
    if len(data) < length:
        raise EOFError
    # Only our own child writes this pipe, so unpickling it trusts nothing new.
    return pickle.loads(data)


class _Child:
    """One parsing subprocess; used by one thread at a time."""

    def __init__(self, ctx: ImportContext, tool: str) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", CHILD_MODULE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        # Sent with the first job, so that a child that died at once is a WorkerCrashed too.
        self.setup: tuple[ImportContext, str] | None = (ctx, tool)

    def run(self, jobs: list[FileJob]) -> list[FileResult]:
        try:
            if self.setup is not None:
                _send(self.stdin, self.setup)
                self.setup = None
            _send(self.stdin, jobs)
            result = _receive(self.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise WorkerCrashed(f"import worker {self.proc.pid} failed: {exc!r}") from exc
        if not isinstance(result, list):
            raise WorkerCrashed(f"import worker {self.proc.pid} answered {type(result)}")
        return result

    def stop(self) -> None:
        try:
            self.stdin.close()
        except OSError:
            pass  # already gone; wait() below reaps it
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.stdout.close()


def parse_parallel(ctx: ImportContext, tool: str, groups: Sequence[list[FileJob]],
                   workers: int) -> Iterator[FileResult]:
    """Each file's result, in the order given, parsed by `workers` children."""
    children: list[_Child] = []
    try:
        for _ in range(workers):
            children.append(_Child(ctx, tool))
    except OSError as exc:
        for child in children:
            child.stop()
        log.warning("could not start import workers (%s); parsing here instead", exc.strerror)
        for jobs in groups:
            yield from parse_job(ctx, tool, jobs)
        return
    idle: queue.Queue[_Child] = queue.Queue()
    for child in children:
        idle.put(child)

    def run(jobs: list[FileJob]) -> list[FileResult]:
        child = idle.get()
        try:
            return child.run(jobs)
        finally:
            idle.put(child)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(run, jobs) for jobs in groups]
        for jobs, future in zip(groups, futures, strict=True):
            try:
                results = future.result()
            except WorkerCrashed as exc:
                log.warning("%s; parsing its files here instead", exc)
                results = parse_job(ctx, tool, jobs)
            yield from results
    finally:
        # If the caller stopped early (a database error), jobs not started are dropped.
        pool.shutdown(wait=True, cancel_futures=True)
        for child in children:
            child.stop()


def main() -> None:
    """The child: read (ctx, tool), then answer each job until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write to the result pipe.
    sys.stdout = sys.stderr
    # Ctrl-C reaches the whole process group: the parent stops, and closing our stdin ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctx, tool = _receive(stdin)
        while True:
            jobs = _receive(stdin)
            _send(stdout, parse_job(ctx, tool, jobs))
    except EOFError:
        return
