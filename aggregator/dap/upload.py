"""Upload at the leader: authenticate the client, place each report in its batch, keep it sealed.

Checks, in order: the client's signature and enrollment (a live key bound to a roster slot of
this task's cohort, within the cohort's roster); per report: its window (valid, started), its
time (not in the future), replay (a known report id is refused unless it is the very same
report again, which is accepted idempotently), the window not collected and still taking
reports (`report_windows.py`), the leader's HPKE config id, and one report per slot per
batch. An accepted report is stored as it arrived, both shares still sealed; the leader opens
its own share only inside an aggregation job.

DAP's report errors are coarse (`report_dropped` covers both "too old" and "this person
already reported"), so each refused report also gets a worktally reason code, sent in the
`Worktally-Reasons` header, for the client's advice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from worktally.aggregator import clock
from worktally.aggregator.dap.batches import is_collected
from worktally.aggregator.dap.tasks import Task
from worktally.aggregator.enrollment import refuse_revoked
from worktally.aggregator.errors import AuthError, DapProblem, Forbidden
from worktally.aggregator.report_windows import takes_reports
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
from worktally.client.wire.dap.window import report_window
from worktally.client.wire.errors import PeriodError
from worktally.client.wire.windows import parse_window

MAX_UPLOAD_BYTES = 64 * 1024
MAX_REPORTS_PER_UPLOAD = 16
# DAP: "a few minutes" of leeway for clients' clocks on report times.
CLOCK_SKEW = dt.timedelta(minutes=10)
REASONS_HEADER = "Worktally-Reasons"
_CLIENT_FAULTS = (ReportError.INVALID_MESSAGE, ReportError.OUTDATED_CONFIG,
                  ReportError.REPORT_TOO_EARLY)


@dataclass(frozen=True)
class UploadOutcome:
    """The reports that were not accepted, in request order (DAP's UploadErrors), and
    worktally's reason code for each."""

    errors: tuple[ReportUploadStatus, ...]
    reasons: tuple[str, ...] = ()

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
    now = now or clock.now()
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
    errors, reasons = [], []
    with store.transaction() as con:
        for report in request.reports:
            refused = _accept(con, task, leader_config_ids, report, slot, now)
            if refused is not None:
                errors.append(ReportUploadStatus(report.metadata.report_id, refused[0]))
                reasons.append(refused[1])
    return UploadOutcome(tuple(errors), tuple(reasons))


def _client(store: AggregatorStore, task: Task, client_id: str) -> tuple[int, Ed25519PublicKey]:
    with store.transaction() as con:
        row = con.execute("SELECT k.cohort, k.public_key, k.slot, k.revoked_at, "
                          "k.revoke_reason, c.roster_size FROM clients k JOIN cohorts c ON "
                          "c.name = k.cohort WHERE k.client_id = ?",
                          [client_id[:64]]).fetchone()
    if row is None:
        raise Forbidden("this client is not enrolled here; enroll with your token first",
                        "not_enrolled")
    cohort, key, slot, revoked, revoke_reason, roster = row
    if cohort != task.cohort or slot is None:
        raise Forbidden(f"this client is not enrolled in {task.cohort} with a personal "
                        "(per-slot) token", "not_enrolled")
    if revoked is not None:
        refuse_revoked(revoke_reason)
    if int(slot) > int(roster):
        raise Forbidden(f"roster slot {slot} is over {cohort}'s roster of {roster}",
                        "over_roster")
    return int(slot), Ed25519PublicKey.from_public_bytes(bytes(key))


def _accept(con: duckdb.DuckDBPyConnection, task: Task, leader_config_ids: set[int],
            report: Report, slot: int, now: dt.datetime) -> tuple[ReportError, str] | None:
    """Store one report as pending, or say why not (DAP's error and worktally's reason)."""
    config = task.config
    try:
        label = report_window(report.metadata)
        window = parse_window(config.window_kind, label)
    except (DapError, PeriodError):
        return ReportError.INVALID_MESSAGE, "invalid"
    if window.label != label:
        return ReportError.INVALID_MESSAGE, "invalid"
    opens = takes_reports(window, now)
    if opens is not None and opens.reason == "window_not_started":
        return ReportError.REPORT_TOO_EARLY, opens.reason
    if report.metadata.time * config.time_precision > (now + CLOCK_SKEW).timestamp():
        return ReportError.REPORT_TOO_EARLY, "clock_ahead"
    report_id = report.metadata.report_id
    sha = hashlib.sha256(report.write()).digest()
    seen = con.execute("SELECT report_sha256, slot, state FROM dap_receipts WHERE task_id = ? "
                       "AND report_id = ?", [task.task_id, report_id]).fetchone()
    if seen is not None:
        if bytes(seen[0]) == sha and seen[1] == slot and seen[2] != "rejected":
            return None  # the same report again: accepted once, counted once
        return ReportError.REPORT_REPLAYED, ("rejected" if seen[2] == "rejected"
                                             else "replayed")
    if is_collected(con, task.task_id, label):
        return ReportError.BATCH_COLLECTED, "window_released"
    if opens is not None:
        return ReportError.REPORT_DROPPED, opens.reason
    if report.leader_encrypted_input_share.config_id not in leader_config_ids:
        return ReportError.OUTDATED_CONFIG, "outdated_config"
    if con.execute("SELECT 1 FROM dap_receipts WHERE task_id = ? AND window_label = ? AND "
                   "slot = ? AND state <> 'rejected'",
                   [task.task_id, label, slot]).fetchone():
        # One report per person per batch: the DP guarantee counts on it.
        return ReportError.REPORT_DROPPED, "already_reported"
    con.execute("INSERT INTO dap_receipts VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                [task.task_id, report_id, label, slot, sha, now])
    con.execute("INSERT INTO dap_pending VALUES (?, ?, ?, ?, NULL)",
                [task.task_id, report_id, label, report.write()])
    return None
