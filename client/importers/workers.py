"""Parses transcript files in child processes, so a large import uses every core.

The children are plain `python -m worktally.client.importers.parse_child` processes fed
pickled jobs over a pipe; they only parse and key lines and never open the database, which
stays with the parent. multiprocessing's spawn would re-run a console script's module in
every child, and fork is unsafe next to DuckDB's and the agent's threads.

A child sends each slice of a file as soon as it is parsed. Slices received but not yet
taken by the parent may weigh at most BYTES_IN_FLIGHT (pickled) per child: a child that
gets ahead of the database waits on its pipe, so memory stays bounded however large the
files are, while a parent busy committing a transaction does not stall the children.
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
import threading
from collections.abc import Iterator, Sequence
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
# Pickled bytes, per child, of the events received and not yet taken by the parent (a
# slice pickles to about a fifteenth of the transcript bytes it covers).
BYTES_IN_FLIGHT = 8 * 1024 * 1024
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
class Parsed:
    """One event of a parse, in file order: a slice of `path`, or its end (`done`), with
    the reason it could not be read this run (`error`) if so."""

    path: Path
    slice: Slice | None = None
    done: bool = False
    error: str | None = None


def parse_job(ctx: ImportContext, tool: str, jobs: Sequence[FileJob],
              skip: int = 0) -> Iterator[Parsed]:
    """Read each file's new lines (in this process); the unit a child runs.

    A file's last slice carries its `done` (one event fewer per file to send and queue).
    `skip`: slices of the first file already delivered (by a child that then died); they
    are parsed again, for the parser's state, but not sent twice.
    """
    for index, job in enumerate(jobs):
        known = {} if job.previous is None else {job.previous.file_key: job.previous}
        already = skip if index == 0 else 0
        held: Slice | None = None
        try:
            for count, piece in enumerate(read_file(known, ctx, tool, job.path)):
                if held is not None:
                    yield Parsed(job.path, slice=held)
                held = piece if count >= already else None
        except OSError as exc:
            if held is not None:
                yield Parsed(job.path, slice=held)
            yield Parsed(job.path, done=True, error=exc.strerror or type(exc).__name__)
            continue
        yield Parsed(job.path, slice=held, done=True)


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
    return _receive_sized(stream)[0]


def _receive_sized(stream: IO[bytes]) -> tuple[Any, int]:
    """The next value and its pickled size."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    (length,) = _FRAME.unpack(head)
    data = stream.read(length)
    if len(data) < length:
        raise EOFError
    # Only our own child writes this pipe, so unpickling it trusts nothing new.
    return pickle.loads(data), length


class _Child:
    """One parsing subprocess; used by one thread at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", CHILD_MODULE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        # Sent with the first job, so that a child that died at once is a WorkerCrashed too.
        self.setup: tuple[ImportContext, str] | None = None

    def run(self, jobs: list[FileJob]) -> Iterator[tuple[Parsed, int]]:
        """The job's events, with their pickled sizes, as the child sends them; the last
        one is its final `done`."""
        try:
            if self.setup is not None:
                _send(self.stdin, self.setup)
                self.setup = None
            _send(self.stdin, jobs)
            remaining = len(jobs)
            while remaining:
                event, size = _receive_sized(self.stdout)
                if not isinstance(event, Parsed):
                    raise WorkerCrashed(f"import worker {self.proc.pid} answered {type(event)}")
                remaining -= event.done
                yield event, size
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise WorkerCrashed(f"import worker {self.proc.pid} failed: {exc!r}") from exc

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


_END = object()  # a group's last queue item
_Item = Parsed | WorkerCrashed | object


class _Groups:
    """Hands out groups in order to the child threads; each group's events queue up for
    the parent, within a budget of input bytes per child."""

    def __init__(self, groups: Sequence[list[FileJob]], children: int) -> None:
        self.groups = groups
        self.queues: list[queue.Queue[tuple[_Item, int]]] = [queue.Queue() for _ in groups]
        self._next = 0
        self._budget = BYTES_IN_FLIGHT * children
        self._in_flight = 0
        self._room = threading.Condition()
        self.stopping = threading.Event()

    def claim(self) -> int | None:
        with self._room:
            if self._next >= len(self.groups) or self.stopping.is_set():
                return None
            self._next += 1
            return self._next - 1

    def put(self, index: int, item: _Item, weight: int = 0) -> bool:
        """Queue an item once the budget has room; False once the parent stopped reading.

        An item heavier than the whole budget still goes when nothing else is in flight.
        """
        with self._room:
            while self._in_flight and self._in_flight + weight > self._budget:
                if self.stopping.is_set():
                    return False
                self._room.wait(0.1)
            if self.stopping.is_set():
                return False
            self._in_flight += weight
        self.queues[index].put((item, weight))
        return True

    def take(self, index: int) -> _Item:
        item, weight = self.queues[index].get()
        if weight:
            with self._room:
                self._in_flight -= weight
                self._room.notify_all()
        return item


def _serve(child: _Child, groups: _Groups) -> None:
    """One child's thread: parse groups until none is left; after a crash, pass on the
    groups it would have taken, so the parent parses them itself."""
    crashed: WorkerCrashed | None = None
    while (index := groups.claim()) is not None:
        if crashed is None:
            try:
                for event, size in child.run(groups.groups[index]):
                    if not groups.put(index, event, size):
                        return
            except WorkerCrashed as exc:
                crashed = exc
        if crashed is not None and not groups.put(index, crashed):
            return
        if not groups.put(index, _END):
            return


# Children started ahead of time by prestart(), for the next parse_parallel to use; worth
# it from about the size at which the runner parses in children.
_started: list[_Child] = []
PRESTART_MIN_BYTES = 32 * 1024 * 1024


def prestart(count: int) -> None:
    """Start `count` children now: an interpreter and its imports take a moment, which a
    caller about to open the database can spend in parallel. Unused ones go at release()."""
    try:
        while len(_started) < count:
            _started.append(_Child())
    except OSError as exc:
        log.debug("could not start import workers early (%s)", exc.strerror)


def release() -> None:
    """Stop the children prestart() began that no parse used."""
    while _started:
        child = _started.pop()
        child.proc.kill()
        child.stop()


def parse_parallel(ctx: ImportContext, tool: str, groups: Sequence[list[FileJob]],
                   workers: int) -> Iterator[Parsed]:
    """Every file's events, in the order given, parsed by `workers` children."""
    children: list[_Child] = []
    try:
        while _started and len(children) < workers:
            children.append(_started.pop())
        while len(children) < workers:
            children.append(_Child())
    except OSError as exc:
        for child in children:
            child.stop()
        log.warning("could not start import workers (%s); parsing here instead", exc.strerror)
        for jobs in groups:
            yield from parse_job(ctx, tool, jobs)
        return
    for child in children:
        child.setup = (ctx, tool)
    shared = _Groups(groups, len(children))
    threads = [threading.Thread(target=_serve, args=(child, shared), daemon=True,
                                name="import-worker") for child in children]
    for thread in threads:
        thread.start()
    finished = False
    try:
        for index, jobs in enumerate(groups):
            yield from _drain_group(ctx, tool, jobs, shared, index)
        finished = True
    finally:
        # If the caller stopped early (a database error), what the children still parse is
        # dropped: they may be blocked writing to a full pipe, so they are killed.
        shared.stopping.set()
        for child in children:
            if not finished:
                child.proc.kill()
            child.stop()
        for thread in threads:
            thread.join(STOP_TIMEOUT_S)


def _drain_group(ctx: ImportContext, tool: str, jobs: list[FileJob], shared: _Groups,
                 index: int) -> Iterator[Parsed]:
    """A group's events from its child; after a crash, the rest parsed here."""
    finished = 0  # files of the group whose `done` came
    delivered = 0  # slices of the current file already passed on
    while True:
        item = shared.take(index)
        if item is _END:
            return
        if isinstance(item, WorkerCrashed):
            log.warning("%s; parsing its files here instead", item)
            yield from parse_job(ctx, tool, jobs[finished:], skip=delivered)
            # Its _END follows.
            continue
        assert isinstance(item, Parsed)
        if item.done:
            finished += 1
            delivered = 0
        elif item.slice is not None:
            delivered += 1
        yield item


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
            for event in parse_job(ctx, tool, jobs):
                _send(stdout, event)
    except EOFError:
        return
