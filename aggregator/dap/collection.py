"""Collection at the leader: close a batch and gather both aggregate shares, sealed to the
collector (DAP's collection job, run by the admin's release or `POST .../collection_jobs`).

Order, each step idempotent so a retry after any failure resumes: refuse a window on hold
or not yet ended; run the batch's pending jobs; in one transaction check
k <= reports <= roster, close the batch, seal the leader's share (noised too when both
aggregators add noise) and store it; then ask the helper for its share (it checks count and
checksum and draws its noise once) and store that. Asking again returns what was stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import duckdb

from worktally.aggregator import clock
from worktally.aggregator.audit_log import audit
from worktally.aggregator.dap.batches import bucket, close
from worktally.aggregator.dap.driver import Driver, pending_count
from worktally.aggregator.dap.model import NoiseFn
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import Task
from worktally.aggregator.errors import PeerUnavailable, ReleaseRefused
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import DapError, b64url
from worktally.client.wire.dap.aggregation import (
    AggregateShare,
    AggregateShareAad,
    AggregateShareReq,
    CollectionJobReq,
    CollectionJobResp,
    Interval,
)
from worktally.client.wire.dap.hpke import seal_aggregate_share
from worktally.client.wire.dap.messages import HpkeCiphertext, Role
from worktally.client.wire.dap.window import window_bounds, window_query

PASSES = 3


@dataclass(frozen=True)
class Collected:
    """A batch's collection: the request both shares are bound to, and the sealed shares."""

    request: CollectionJobReq
    response: CollectionJobResp


def collect(store: AggregatorStore, task: Task, window: str, driver: Driver,
            peer: HelperClient, noise: NoiseFn, actor: str = "admin",
            now: dt.datetime | None = None) -> Collected:
    """Collect one batch (or return its earlier collection)."""
    now = now or clock.now()
    start, end = _window(task, window)
    # A hold blocks handing out even a collection made before it.
    _check_hold(store, task, window)
    stored = _stored(store, task, window)
    if stored is None:
        if end > now:
            raise ReleaseRefused(f"{task.cohort} {window} has not ended; it can be released "
                                 f"from {end.isoformat()}")
        for _ in range(PASSES):
            driver.run_once(task, window)
            if not pending_count(store, task, window):
                break
        else:
            raise PeerUnavailable(f"{task.cohort} {window} still has reports waiting for the "
                                  "helper; is it running? Nothing was released")
        _close_and_seal(store, task, window, noise, actor)
        stored = _stored(store, task, window)
        assert stored is not None
    request, count, checksum, leader_share, helper_share = stored
    if helper_share is None:
        share_req = AggregateShareReq(request, window_query(window), count, checksum)
        assert task.leader_token is not None
        answer = peer.post_aggregate_share(task.config.helper_url, task.task_id,
                                           task.leader_token, share_req.encode())
        try:
            helper_share = AggregateShare.decode(answer).encrypted_aggregate_share
        except DapError as exc:
            raise PeerUnavailable(f"the helper sent a malformed aggregate share: {exc}") from exc
        with store.transaction() as con:
            con.execute("UPDATE dap_collections SET helper_share = ? WHERE task_id = ? AND "
                        "window_label = ?", [helper_share.encode(), task.task_id, window])
    return Collected(request, CollectionJobResp(count, _interval(task, start, end), leader_share,
                                                helper_share))


def collection_job_id(request: bytes) -> bytes:
    """A collection job's id: derived from its request, so a repeat names the same job."""
    return hashlib.sha256(b"worktally collection job" + request).digest()[:16]


def stored_collection(store: AggregatorStore, task: Task, job_id: bytes) -> Collected | None:
    """GET on a collection job: its stored answer once both shares are in (holds apply)."""
    with store.transaction() as con:
        rows = con.execute("SELECT window_label, request FROM dap_collections WHERE "
                           "task_id = ?", [task.task_id]).fetchall()
    for window, request in rows:
        if collection_job_id(bytes(request)) != job_id:
            continue
        _check_hold(store, task, window)
        stored = _stored(store, task, window)
        if stored is None or stored[4] is None:
            return None
        start, end = _window(task, window)
        return Collected(stored[0], CollectionJobResp(stored[1], _interval(task, start, end),
                                                      stored[3], stored[4]))
    return None


def _interval(task: Task, start: dt.datetime, end: dt.datetime) -> Interval:
    """DAP's interval of the batch: the window, in time-precision units (report times
    themselves are not kept)."""
    precision = task.config.time_precision
    return Interval(int(start.timestamp()) // precision,
                    int((end - start).total_seconds()) // precision)


def _window(task: Task, window: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        return window_bounds(task.config.window_kind, window)
    except DapError as exc:
        raise ReleaseRefused(str(exc)) from exc


def _check_hold(store: AggregatorStore, task: Task, window: str) -> None:
    with store.transaction() as con:
        hold = con.execute("SELECT reason FROM holds WHERE cohort = ? AND period = ?",
                           [task.cohort, window]).fetchone()
    if hold is not None:
        raise ReleaseRefused(f"{task.cohort} {window} is on hold by the privacy officer "
                             f"({hold[0]}); ask them to unhold it")


def cohort_roster(con: duckdb.DuckDBPyConnection, task: Task) -> int:
    """The cohort's roster now: the leader's to change (a legacy task's hashed cap bounds it)."""
    row = con.execute("SELECT roster_size FROM cohorts WHERE name = ?", [task.cohort]).fetchone()
    roster = int(row[0]) if row else 0
    cap = task.config.roster_cap
    return roster if cap is None else min(roster, cap)


def _close_and_seal(store: AggregatorStore, task: Task, window: str, noise: NoiseFn,
                    actor: str) -> None:
    config, vdaf = task.config, task.config.vdaf()
    with store.transaction() as con:
        if con.execute("SELECT 1 FROM dap_collections WHERE task_id = ? AND window_label = ?",
                       [task.task_id, window]).fetchone():
            return
        if con.execute("SELECT 1 FROM dap_pending WHERE task_id = ? AND window_label = ?",
                       [task.task_id, window]).fetchone():
            raise PeerUnavailable(f"new reports for {task.cohort} {window} arrived while "
                                  "collecting; try again")
        current = bucket(con, vdaf, task.task_id, window)
        if current.agg_share is None:
            raise ReleaseRefused(f"{task.cohort} {window} is already collected")
        n = current.report_count
        if n < config.k_min:
            raise ReleaseRefused(f"{task.cohort} {window} has {n} contributors, under "
                                 f"k={config.k_min}; wait for more reports")
        roster = cohort_roster(con, task)
        if n > roster:
            raise ReleaseRefused(f"{task.cohort} {window} has {n} contributors, more than its "
                                 f"roster of {roster}; refusing")
        share = current.agg_share
        if config.noise_copies == 2:  # a third-party leader adds its own full draw too
            share = vdaf.add_noise(share, list(noise(config)))
        request = CollectionJobReq(window_query(window))
        aad = AggregateShareAad(task.task_id, config.encoded, request)
        sealed = seal_aggregate_share(config.collector_hpke, Role.LEADER, aad,
                                      vdaf.encode_agg_share(share))
        close(con, task.task_id, window, n, current.checksum)
        con.execute("INSERT INTO dap_collections VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                    [task.task_id, window, request.encode(), n, current.checksum,
                     sealed.encode(), clock.now()])
        audit(con, actor, "collect", task.cohort, window,
              f"task={b64url(task.task_id)} n={n} leader_noise={config.noise_copies == 2}")


def _stored(store: AggregatorStore, task: Task, window: str
            ) -> tuple[CollectionJobReq, int, bytes, HpkeCiphertext, HpkeCiphertext | None] | None:
    with store.transaction() as con:
        row = con.execute("SELECT request, report_count, checksum, leader_share, helper_share "
                          "FROM dap_collections WHERE task_id = ? AND window_label = ?",
                          [task.task_id, window]).fetchone()
    if row is None:
        return None
    helper = HpkeCiphertext.decode(bytes(row[4])) if row[4] is not None else None
    return (CollectionJobReq.decode(bytes(row[0])), int(row[1]), bytes(row[2]),
            HpkeCiphertext.decode(bytes(row[3])), helper)
