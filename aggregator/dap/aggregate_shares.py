"""The helper's side of collection: check the leader's count and checksum, add noise ONCE,
seal the aggregate share to the collector, close the batch.

The answer is stored with the request that produced it: the same request again (a leader
retrying after a timeout or a restart) gets the same sealed bytes, so no second noise draw
ever leaves the helper; a different request for a collected batch is `batchOverlap`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from worktally.aggregator import clock
from worktally.aggregator.audit_log import audit
from worktally.aggregator.dap.batches import bucket, close
from worktally.aggregator.dap.model import NoiseFn
from worktally.aggregator.dap.tasks import Task
from worktally.aggregator.errors import DapProblem
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import DapError, b64url
from worktally.client.wire.dap.aggregation import (
    AggregateShare,
    AggregateShareAad,
    AggregateShareReq,
)
from worktally.client.wire.dap.hpke import seal_aggregate_share
from worktally.client.wire.dap.messages import Role
from worktally.client.wire.dap.window import query_window, window_bounds

SHARE_ID_SIZE = 16


@dataclass(frozen=True)
class ShareResult:
    share_id: bytes
    response: bytes  # an encoded AggregateShare
    created: bool


def share_id_for(task_id: bytes, body: bytes) -> bytes:
    return hashlib.sha256(b"worktally aggregate share" + task_id + body).digest()[:SHARE_ID_SIZE]


def handle_aggregate_share(store: AggregatorStore, task: Task, body: bytes, noise: NoiseFn,
                           now: dt.datetime | None = None) -> ShareResult:
    """Answer one AggregateShareReq (or replay the stored answer to the same request)."""
    now = now or clock.now()
    tid = task.task_id
    share_id = share_id_for(tid, body)
    request = _parse(task, body)
    window = query_window(request.batch_selector)
    _, end = window_bounds(task.config.window_kind, window)
    vdaf = task.config.vdaf()
    with store.transaction() as con:
        row = con.execute("SELECT request, helper_share FROM dap_collections WHERE task_id = ? "
                          "AND window_label = ?", [tid, window]).fetchone()
        if row is not None:
            if bytes(row[0]) != body:
                raise DapProblem("batchOverlap", f"batch {window} was already collected by "
                                 "another request", 409, tid)
            return ShareResult(share_id, bytes(row[1]), False)
        if end > now:
            raise DapProblem("batchInvalid", f"window {window} has not ended; it can be "
                             f"collected from {end.isoformat()}", 400, tid)
        current = bucket(con, vdaf, tid, window)
        if current.collected or current.agg_share is None:
            raise DapProblem("batchOverlap", f"batch {window} is already collected", 409, tid)
        count = current.report_count
        # The helper checks k on its own count. It cannot check the roster (it cannot tell
        # people apart; the leader enrolls them): only a legacy task's hashed cap.
        cap = task.config.roster_cap
        if count < task.config.k_min or (cap is not None and count > cap):
            limits = f"{task.config.k_min} to {cap}" if cap else f"at least {task.config.k_min}"
            raise DapProblem("invalidBatchSize", f"batch {window} holds {count} reports; a "
                             f"release needs {limits}", 400, tid)
        if (count, current.checksum) != (request.report_count, request.checksum):
            raise DapProblem("batchMismatch", f"the leader counts {request.report_count} "
                             f"reports in {window}, the helper {count}, or their checksums "
                             "differ", 409, tid)
        # The helper always adds noise: with the org as leader and collector, this draw is
        # the one that protects anyone (noise_copies 1); with a third-party leader both do.
        noised = vdaf.add_noise(current.agg_share, list(noise(task.config)))
        aad = AggregateShareAad(tid, task.config.encoded, request.collection_job_req)
        sealed = seal_aggregate_share(task.config.collector_hpke, Role.HELPER, aad,
                                      vdaf.encode_agg_share(noised))
        response = AggregateShare(sealed).encode()
        close(con, tid, window, count, current.checksum)
        con.execute("INSERT INTO dap_collections VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                    [tid, window, body, count, current.checksum, response, now])
        audit(con, "leader", "aggregate-share", task.cohort, window,
              f"task={b64url(tid)} n={count} noise=drawn once")
    return ShareResult(share_id, response, True)


def stored_share(store: AggregatorStore, task: Task, share_id: bytes) -> bytes | None:
    """GET on an aggregate share resource: the stored answer whose request hashes to the id."""
    with store.transaction() as con:
        rows = con.execute("SELECT request, helper_share FROM dap_collections WHERE "
                           "task_id = ?", [task.task_id]).fetchall()
    for request, share in rows:
        if share_id_for(task.task_id, bytes(request)) == share_id and share is not None:
            return bytes(share)
    return None


def _parse(task: Task, body: bytes) -> AggregateShareReq:
    try:
        request = AggregateShareReq.decode(body)
        window = query_window(request.batch_selector)
        if query_window(request.collection_job_req.query) != window:
            raise DapProblem("batchInvalid", "the batch selector is not the collection's "
                             "query", 400, task.task_id)
        window_bounds(task.config.window_kind, window)
    except DapError as exc:
        raise DapProblem("invalidMessage", str(exc), 400, task.task_id) from exc
    if request.collection_job_req.agg_param != b"":
        raise DapProblem("invalidMessage", "Prio3's aggregation parameter is empty", 400,
                         task.task_id)
    if request.collection_job_req.extensions:
        raise DapProblem("unsupportedExtension", "no collection job extensions are "
                         "supported", 400, task.task_id)
    return request
