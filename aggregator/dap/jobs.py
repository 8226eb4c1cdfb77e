"""Aggregation jobs at the helper: verify each report with the leader, fold the valid ones in.

The job id is derived from the request (DAP: "derive the resource identifier
deterministically from the request content"), so a leader that resends a job after a
timeout or a restart sends the identical body, gets the same id, and receives the stored
response: nothing is counted twice. Prio3 verifies in one round, so for each report the
helper decrypts its share, runs verify_init, combines its verifier share with the leader's
(the ping-pong `initialize` message), and on success commits its output share and answers
with the `finish` message the leader needs; all commits and the stored response are one
transaction. The heavy per-report work runs outside the store's lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from worktally.aggregator.dap.batches import commit, is_collected
from worktally.aggregator.dap.tasks import Task
from worktally.aggregator.errors import DapProblem
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.aggregation import (
    AggregationJobInitReq,
    AggregationJobResp,
    PingPong,
    PingPongType,
    VerifyInit,
    VerifyResp,
    VerifyRespType,
)
from worktally.client.wire.dap.hpke import (
    HpkeKeyPair,
    UnknownHpkeConfig,
    input_share_info,
    open_sealed,
)
from worktally.client.wire.dap.messages import (
    InputShareAad,
    PlaintextInputShare,
    ReportError,
    Role,
)
from worktally.client.wire.dap.window import report_window, window_bounds
from worktally.client.wire.vdaf import Prio3, VdafError

JOB_ID_SIZE = 16
VERIFY_KEY_ID = 0
MAX_JOB_BYTES = 16 * 1024 * 1024
CLOCK_SKEW = dt.timedelta(minutes=10)


def job_id_for(task_id: bytes, body: bytes) -> bytes:
    return hashlib.sha256(b"worktally aggregation job" + task_id + body).digest()[:JOB_ID_SIZE]


@dataclass(frozen=True)
class JobResult:
    job_id: bytes
    response: bytes  # an encoded AggregationJobResp
    created: bool  # False: a repeat of a job already done


@dataclass(frozen=True)
class Prepared:
    """One report after the helper's verification, before commitment."""

    report_id: bytes
    window: str | None
    out_share: list[int] | None
    outbound: bytes | None  # the encoded ping-pong `finish` message
    error: ReportError | None


def handle_job(store: AggregatorStore, task: Task, keys: dict[int, HpkeKeyPair], body: bytes,
               now: dt.datetime | None = None) -> JobResult:
    """Run (or replay) one AggregationJobInitReq; DapProblem for a malformed job."""
    now = now or dt.datetime.now(dt.UTC)
    job_id = job_id_for(task.task_id, body)
    stored = stored_response(store, task, job_id)
    if stored is not None:
        return JobResult(job_id, stored, False)
    request = _parse(task, body)
    prepared = [prepare(task, keys, init, now) for init in request.verify_inits]
    with store.transaction() as con:
        again = con.execute("SELECT response FROM dap_jobs WHERE task_id = ? AND job_id = ?",
                            [task.task_id, job_id]).fetchone()
        if again is not None:  # the same job finished meanwhile on another thread
            return JobResult(job_id, bytes(again[0]), False)
        seen = {bytes(r[0]) for r in con.execute(
            "SELECT report_id FROM dap_seen WHERE task_id = ? AND report_id IN "
            "(SELECT unnest(?::BLOB[]))", [task.task_id, [p.report_id for p in prepared]]
        ).fetchall()}
        vdaf = task.config.vdaf()
        by_window: dict[str, list[tuple[bytes, list[int]]]] = {}
        collected = {w: is_collected(con, task.task_id, w)
                     for w in {p.window for p in prepared if p.window is not None}}
        responses = []
        for p in prepared:
            error = p.error
            if error is None and p.report_id in seen:
                error = ReportError.REPORT_REPLAYED
            if error is None and p.window is not None and collected[p.window]:
                error = ReportError.BATCH_COLLECTED
            if error is not None:
                responses.append(VerifyResp(p.report_id, VerifyRespType.REJECT, error=error))
                continue
            assert p.window is not None and p.out_share is not None and p.outbound is not None
            by_window.setdefault(p.window, []).append((p.report_id, p.out_share))
            responses.append(VerifyResp(p.report_id, VerifyRespType.CONTINUE, p.outbound))
        for window, outputs in by_window.items():
            commit(con, vdaf, task.task_id, window, outputs)
            con.execute("INSERT INTO dap_seen SELECT ?, unnest(?::BLOB[])",
                        [task.task_id, [rid for rid, _ in outputs]])
        response = AggregationJobResp(tuple(responses)).encode()
        con.execute("INSERT INTO dap_jobs VALUES (?, ?, ?, NULL, ?, 'done', 1, NULL, ?)",
                    [task.task_id, job_id, ",".join(sorted(by_window)), response, now])
    return JobResult(job_id, response, True)


def stored_response(store: AggregatorStore, task: Task, job_id: bytes) -> bytes | None:
    with store.transaction() as con:
        row = con.execute("SELECT response FROM dap_jobs WHERE task_id = ? AND job_id = ?",
                          [task.task_id, job_id]).fetchone()
    return bytes(row[0]) if row else None


def _parse(task: Task, body: bytes) -> AggregationJobInitReq:
    try:
        request = AggregationJobInitReq.decode(body)
    except DapError as exc:
        raise DapProblem("invalidMessage", str(exc), 400, task.task_id) from exc
    if request.verification_key_id != VERIFY_KEY_ID:
        raise DapProblem("invalidMessage", "unknown verification key id", 400, task.task_id)
    if request.agg_param != b"":
        raise DapProblem("invalidAggregationParameter", "Prio3's aggregation parameter is "
                         "empty", 400, task.task_id)
    if request.extensions:
        raise DapProblem("unsupportedExtension", "this helper supports no aggregation job "
                         "extensions", 400, task.task_id)
    ids = [v.report_share.metadata.report_id for v in request.verify_inits]
    if not ids or len(set(ids)) != len(ids):
        raise DapProblem("invalidMessage", "a job needs at least one report, each once", 400,
                         task.task_id)
    return request


def prepare(task: Task, keys: dict[int, HpkeKeyPair], init: VerifyInit,
            now: dt.datetime) -> Prepared:
    """The helper's verification of one report: its output share, or the reason to reject."""
    share = init.report_share
    rid = share.metadata.report_id

    def reject(error: ReportError) -> Prepared:
        return Prepared(rid, None, None, None, error)

    try:
        window = report_window(share.metadata)
        window_bounds(task.config.window_kind, window)
    except DapError:
        return reject(ReportError.INVALID_MESSAGE)
    if share.metadata.time * task.config.time_precision > (now + CLOCK_SKEW).timestamp():
        return reject(ReportError.REPORT_TOO_EARLY)
    aad = InputShareAad(task.task_id, task.config.encoded, share.metadata, share.public_share)
    try:
        plain = open_sealed(keys, share.encrypted_input_share, input_share_info(Role.HELPER),
                            aad.encode())
    except UnknownHpkeConfig:
        return reject(ReportError.HPKE_UNKNOWN_CONFIG_ID)
    except DapError:
        return reject(ReportError.HPKE_DECRYPT_ERROR)
    vdaf = task.config.vdaf()
    try:
        plaintext = PlaintextInputShare.decode(plain)
        if plaintext.private_extensions:
            return reject(ReportError.INVALID_MESSAGE)
        public = vdaf.decode_public_share(share.public_share)
        input_share = vdaf.decode_input_share(1, plaintext.payload)
        inbound = PingPong.decode(init.payload)
    except (DapError, VdafError):
        return reject(ReportError.INVALID_MESSAGE)
    result = helper_verify(vdaf, task, rid, public, input_share, inbound)
    if result is None:
        return reject(ReportError.VDAF_VERIFY_ERROR)
    out_share, outbound = result
    return Prepared(rid, window, out_share, outbound, None)


def helper_verify(vdaf: Prio3[Any, Any], task: Task, report_id: bytes, public: Any,
                  input_share: Any, inbound: PingPong) -> tuple[list[int], bytes] | None:
    """VDAF ping_pong_helper_init for a one-round VDAF: (out share, `finish` message)."""
    if inbound.type is not PingPongType.INITIALIZE:
        return None
    ctx = task.config.ctx
    try:
        state, mine = vdaf.verify_init(task.verify_key, ctx, 1, None, report_id, public,
                                       input_share)
        theirs = vdaf.decode_verifier_share(inbound.verifier_share)
        message = vdaf.verifier_shares_to_message(ctx, None, [theirs, mine])
        out_share = vdaf.verify_next(ctx, state, message)
    except VdafError:
        return None
    finish = PingPong(PingPongType.FINISH, vdaf.encode_verifier_message(message))
    return out_share, finish.encode()
