"""Upload at the leader: authenticate the client, place each report in its batch, keep it sealed.

Checks, in order: the client's signature and enrollment (a live key bound to a roster slot of
this task's cohort); per report: its window (valid, started, not collected), its time (not in
the future), the leader's HPKE config id, replay (a known report id is refused unless it is
the very same report again, which is accepted idempotently), and one report per slot per
batch. An accepted report is stored as it arrived, both shares still sealed; the leader opens
its own share only inside an aggregation job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from worktally.aggregator.dap.batches import is_collected
from worktally.aggregator.dap.tasks import Task
from worktally.aggregator.errors import AuthError, DapProblem, Forbidden
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.client import verify_upload
from worktally.client.wire.dap.messages import (
    Report,
    ReportError,
    ReportUploadStatus,
    UploadErrors,
    UploadRequest,
)
from worktally.client.wire.dap.window import report_window, window_bounds

MAX_UPLOAD_BYTES = 64 * 1024
MAX_REPORTS_PER_UPLOAD = 16
# DAP: "a few minutes" of leeway for clients' clocks on report times; a window opens for
# reports from its start, less half a day for clients in other time zones.
CLOCK_SKEW = dt.timedelta(minutes=10)
WINDOW_SKEW = dt.timedelta(hours=12)
_CLIENT_FAULTS = (ReportError.INVALID_MESSAGE, ReportError.OUTDATED_CONFIG,
                  ReportError.REPORT_TOO_EARLY)


@dataclass(frozen=True)
class UploadOutcome:
    """The reports that were not accepted, in request order (DAP's UploadErrors)."""

    errors: tuple[ReportUploadStatus, ...]

    @property
    def status(self) -> int:
        """200 if every report was accepted; 400 if one was malformed or early; else 409."""
        if not self.errors:
            return 200
        return 400 if any(e.error in _CLIENT_FAULTS for e in self.errors) else 409

    def body(self) -> bytes:
        return UploadErrors(self.errors).encode() if self.errors else b""


def upload(store: AggregatorStore, task: Task, leader_config_ids: set[int], body: bytes,
           client_id: str | None, signature: str | None,
           now: dt.datetime | None = None) -> UploadOutcome:
    """Check and store every report of one signed upload, each in its own right."""
    now = now or dt.datetime.now(dt.UTC)
    if not client_id or not signature:
        raise AuthError("an upload needs the Worktally-Client and Worktally-Signature headers")
    slot, key = _client(store, task, client_id)
    try:
        verify_upload(key, task.task_id, body, signature)
    except DapError as exc:
        raise Forbidden(str(exc)) from exc
    try:
        request = UploadRequest.decode(body)
    except DapError as exc:
        raise DapProblem("invalidMessage", str(exc), 400, task.task_id) from exc
    if len(request.reports) > MAX_REPORTS_PER_UPLOAD:
        raise DapProblem("invalidMessage", f"at most {MAX_REPORTS_PER_UPLOAD} reports per "
                         "upload", 400, task.task_id)
    errors = []
    with store.transaction() as con:
        for report in request.reports:
            error = _accept(con, task, leader_config_ids, report, slot, now)
            if error is not None:
                errors.append(ReportUploadStatus(report.metadata.report_id, error))
    return UploadOutcome(tuple(errors))


def _client(store: AggregatorStore, task: Task, client_id: str) -> tuple[int, Ed25519PublicKey]:
    with store.transaction() as con:
        row = con.execute("SELECT cohort, public_key, slot, revoked_at FROM clients "
                          "WHERE client_id = ?", [client_id[:64]]).fetchone()
    if row is None:
        raise Forbidden("this client is not enrolled here; enroll with your token first")
    cohort, key, slot, revoked = row
    if revoked is not None:
        raise Forbidden("this key was replaced by a newer enrollment for the same person; "
                        "upload with the current key")
    if cohort != task.cohort or slot is None:
        raise Forbidden(f"this client is not enrolled in {task.cohort} with a personal "
                        "(per-slot) token")
    return int(slot), Ed25519PublicKey.from_public_bytes(bytes(key))


def _accept(con: duckdb.DuckDBPyConnection, task: Task, leader_config_ids: set[int],
            report: Report, slot: int, now: dt.datetime) -> ReportError | None:
    """Store one report as pending, or say why not."""
    config = task.config
    try:
        window = report_window(report.metadata)
        start, _ = window_bounds(config.window_kind, window)
    except DapError:
        return ReportError.INVALID_MESSAGE
    if start - WINDOW_SKEW > now:
        return ReportError.REPORT_TOO_EARLY
    if report.metadata.time * config.time_precision > (now + CLOCK_SKEW).timestamp():
        return ReportError.REPORT_TOO_EARLY
    if report.leader_encrypted_input_share.config_id not in leader_config_ids:
        return ReportError.OUTDATED_CONFIG
    report_id = report.metadata.report_id
    sha = hashlib.sha256(report.write()).digest()
    seen = con.execute("SELECT report_sha256, slot, state FROM dap_receipts WHERE task_id = ? "
                       "AND report_id = ?", [task.task_id, report_id]).fetchone()
    if seen is not None:
        same = bytes(seen[0]) == sha and seen[1] == slot and seen[2] != "rejected"
        return None if same else ReportError.REPORT_REPLAYED
    if is_collected(con, task.task_id, window):
        return ReportError.BATCH_COLLECTED
    if con.execute("SELECT 1 FROM dap_receipts WHERE task_id = ? AND window_label = ? AND "
                   "slot = ? AND state <> 'rejected'",
                   [task.task_id, window, slot]).fetchone():
        # One report per person per batch: the DP guarantee counts on it.
        return ReportError.REPORT_DROPPED
    con.execute("INSERT INTO dap_receipts VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                [task.task_id, report_id, window, slot, sha, now])
    con.execute("INSERT INTO dap_pending VALUES (?, ?, ?, ?, NULL)",
                [task.task_id, report_id, window, report.write()])
    return None
