"""The leader's aggregation driver: turn pending reports into jobs, run them with the helper.

A job is written down (id, window, its exact request body, which pending reports it holds)
BEFORE it is sent. If the helper is down the job stays and is resent, byte for byte, on the
next pass; after a leader restart too. The helper answers a repeat from storage, so a report
is never counted twice. When an answer arrives, the leader finishes verification, folds its
output shares into the batch, deletes the job's pending reports and marks the job done, in
one transaction. Passes run every few seconds in a thread, and on demand before collection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from worktally.aggregator import clock
from worktally.aggregator.dap.batches import commit
from worktally.aggregator.dap.jobs import VERIFY_KEY_ID, job_id_for
from worktally.aggregator.dap.keys import KeyRing
from worktally.aggregator.dap.leader import LeaderStart, leader_finish, leader_start
from worktally.aggregator.dap.peer import HelperClient, PeerRefused
from worktally.aggregator.dap.tasks import Task, list_tasks
from worktally.aggregator.errors import AggregatorError, PeerUnavailable
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.aggregation import AggregationJobInitReq, AggregationJobResp
from worktally.client.wire.dap.hpke import HpkeKeyPair
from worktally.client.wire.dap.messages import ReportError

log = logging.getLogger(__name__)
JOB_SIZE = 100


@dataclass
class PassReport:
    """What one driver pass did (served by `POST /v1/admin/aggregate`)."""

    jobs_sent: int = 0
    jobs_done: int = 0
    aggregated: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def reject(self, error: ReportError, count: int = 1) -> None:
        self.rejected[error.token] = self.rejected.get(error.token, 0) + count


class Driver:
    """Runs the leader's aggregation jobs; one pass at a time."""

    def __init__(self, store: AggregatorStore, keys: KeyRing | dict[int, HpkeKeyPair],
                 peer: HelperClient, interval: float = 5.0, job_size: int = JOB_SIZE,
                 on_sent: Callable[[bytes], None] | None = None) -> None:
        self.store, self._keys, self.peer = store, keys, peer
        self.interval, self.job_size = interval, job_size
        self._on_sent = on_sent  # observability hook: called with a job id once it is sent
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def keys(self) -> dict[int, HpkeKeyPair]:
        """The leader's key pairs now (a rotation swaps them in the ring)."""
        return self._keys.pairs() if isinstance(self._keys, KeyRing) else self._keys

    # --- the background thread -----------------------------------------------------------

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="dap-driver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.run_once()
                for error in report.errors:
                    log.warning("aggregation: %s", error)
            except Exception:  # the thread must outlive one bad pass; logged with its trace
                log.exception("aggregation pass failed; retrying in %.0f s", self.interval)
            self._stop.wait(self.interval)

    # --- one pass ------------------------------------------------------------------------

    def run_once(self, task: Task | None = None, window: str | None = None) -> PassReport:
        """Resend unfinished jobs, then make and send new ones for pending reports."""
        report = PassReport()
        with self._lock:
            for t in [task] if task else list_tasks(self.store):
                if t.leader_token is None:
                    continue
                for job_id, job_window, body in self._unfinished(t, window):
                    self._send(t, job_id, job_window, body, None, report)
                while (job := self._new_job(t, window, report)) is not None:
                    self._send(t, *job, report)
            if report.jobs_done:
                self.store.checkpoint()
        return report

    def _unfinished(self, task: Task, window: str | None) -> list[tuple[bytes, str, bytes]]:
        with self.store.transaction() as con:
            rows = con.execute("SELECT job_id, window_label, request FROM dap_jobs WHERE "
                               "task_id = ? AND state = 'sent' AND (? IS NULL OR "
                               "window_label = ?) ORDER BY created_at",
                               [task.task_id, window, window]).fetchall()
        return [(bytes(r[0]), r[1], bytes(r[2])) for r in rows]

    def _new_job(self, task: Task, window: str | None, report: PassReport
                 ) -> tuple[bytes, str, bytes, dict[bytes, LeaderStart]] | None:
        with self.store.transaction() as con:
            first = con.execute("SELECT window_label FROM dap_pending WHERE task_id = ? AND "
                                "job_id IS NULL AND (? IS NULL OR window_label = ?) "
                                "ORDER BY window_label LIMIT 1",
                                [task.task_id, window, window]).fetchone()
            if first is None:
                return None
            rows = con.execute("SELECT report_id, report FROM dap_pending WHERE task_id = ? "
                               "AND job_id IS NULL AND window_label = ? ORDER BY report_id "
                               "LIMIT ?", [task.task_id, first[0], self.job_size]).fetchall()
        job_window = first[0]
        starts: dict[bytes, LeaderStart] = {}
        rejected: list[tuple[bytes, ReportError]] = []
        for rid, raw in rows:
            started = leader_start(task, self.keys, bytes(raw))
            if isinstance(started, ReportError):
                rejected.append((bytes(rid), started))
            else:
                starts[started.report_id] = started
        body = b""
        job_id = b""
        if starts:
            inits = tuple(s.init for s in starts.values())
            body = AggregationJobInitReq(VERIFY_KEY_ID, b"", (), inits).encode()
            job_id = job_id_for(task.task_id, body)
        with self.store.transaction() as con:
            self._reject(con, task, rejected, report)
            if starts:
                con.execute("INSERT INTO dap_jobs VALUES (?, ?, ?, ?, NULL, 'sent', 0, NULL, ?)",
                            [task.task_id, job_id, job_window, body, clock.now()])
                con.execute("UPDATE dap_pending SET job_id = ? WHERE task_id = ? AND "
                            "report_id IN (SELECT unnest(?::BLOB[]))",
                            [job_id, task.task_id, list(starts)])
        if not starts:
            return (b"", job_window, b"", {}) if rejected else None
        return job_id, job_window, body, starts

    def _send(self, task: Task, job_id: bytes, window: str, body: bytes,
              starts: dict[bytes, LeaderStart] | None, report: PassReport) -> None:
        if not body:
            return  # a batch of only rejected reports: nothing to send
        assert task.leader_token is not None
        try:
            answer = self.peer.post_job(task.config.helper_url, task.task_id, task.leader_token,
                                        body)
            response = AggregationJobResp.decode(answer)
        except (PeerUnavailable, PeerRefused, DapError) as exc:
            self._note_failure(task, job_id, str(exc))
            report.errors.append(f"{task.cohort} {window}: {exc}")
            return
        report.jobs_sent += 1
        if self._on_sent is not None:
            self._on_sent(job_id)
        if starts is None:
            starts = self._restart(task, job_id)
        expected = list(starts)
        if [r.report_id for r in response.verify_resps] != expected:
            self._note_failure(task, job_id, "the helper answered for other reports")
            report.errors.append(f"{task.cohort} {window}: the helper's answer lists other "
                                 "reports than the job; the job is kept")
            return
        outputs, rejected = [], []
        for answer_for in response.verify_resps:
            result = leader_finish(task, starts[answer_for.report_id].state, answer_for)
            if isinstance(result, ReportError):
                rejected.append((answer_for.report_id, result))
            else:
                outputs.append((answer_for.report_id, result))
        with self.store.transaction() as con:
            state = con.execute("SELECT state FROM dap_jobs WHERE task_id = ? AND job_id = ?",
                                [task.task_id, job_id]).fetchone()
            if state is None or state[0] == "done":
                return
            if outputs:
                commit(con, task.config.vdaf(), task.task_id, window, outputs)
            con.execute("UPDATE dap_receipts SET state = 'aggregated' WHERE task_id = ? AND "
                        "report_id IN (SELECT unnest(?::BLOB[]))",
                        [task.task_id, [rid for rid, _ in outputs]])
            self._reject(con, task, rejected, report)
            con.execute("DELETE FROM dap_pending WHERE task_id = ? AND job_id = ?",
                        [task.task_id, job_id])
            con.execute("UPDATE dap_jobs SET state = 'done', request = NULL, last_error = NULL, "
                        "attempts = attempts + 1 WHERE task_id = ? AND job_id = ?",
                        [task.task_id, job_id])
        report.jobs_done += 1
        report.aggregated += len(outputs)

    def _restart(self, task: Task, job_id: bytes) -> dict[bytes, LeaderStart]:
        """After a restart: recompute the leader's verify states (verify_init is
        deterministic) from the job's still-sealed reports, in the job's order."""
        with self.store.transaction() as con:
            rows = con.execute("SELECT report_id, report FROM dap_pending WHERE task_id = ? "
                               "AND job_id = ? ORDER BY report_id",
                               [task.task_id, job_id]).fetchall()
        starts = {}
        for _, raw in rows:
            started = leader_start(task, self.keys, bytes(raw))
            if isinstance(started, LeaderStart):
                starts[started.report_id] = started
        return starts

    def _reject(self, con: duckdb.DuckDBPyConnection, task: Task,
                rejected: list[tuple[bytes, ReportError]], report: PassReport) -> None:
        for rid, error in rejected:
            con.execute("UPDATE dap_receipts SET state = 'rejected' WHERE task_id = ? AND "
                        "report_id = ?", [task.task_id, rid])
            con.execute("DELETE FROM dap_pending WHERE task_id = ? AND report_id = ?",
                        [task.task_id, rid])
            report.reject(error)

    def _note_failure(self, task: Task, job_id: bytes, error: str) -> None:
        with self.store.transaction() as con:
            con.execute("UPDATE dap_jobs SET attempts = attempts + 1, last_error = ? WHERE "
                        "task_id = ? AND job_id = ?", [error[:500], task.task_id, job_id])


def pending_count(store: AggregatorStore, task: Task, window: str | None = None) -> int:
    with store.transaction() as con:
        row = con.execute("SELECT count(*) FROM dap_pending WHERE task_id = ? AND "
                          "(? IS NULL OR window_label = ?)",
                          [task.task_id, window, window]).fetchone()
    return int(row[0]) if row else 0


def require_no_pending(store: AggregatorStore, task: Task, window: str) -> None:
    if pending_count(store, task, window):
        raise AggregatorError(f"{task.cohort} {window} still has reports waiting for the "
                              "helper; retry once it answers")
