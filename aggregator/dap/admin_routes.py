"""Operators' secure-mode endpoints (JSON, bearer-authenticated): run aggregation now (leader)
and see batches' progress (both). Tokens and accepting a task are `operator_api.py`'s."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from worktally.aggregator.api_models import ERRORS
from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import b64url


class PassSummary(BaseModel):
    jobs_sent: int
    jobs_done: int
    aggregated: int
    rejected: dict[str, int]
    errors: list[str]


class BatchStatus(BaseModel):
    cohort: str
    task_id: str
    window: str
    reports: int = Field(description="reports aggregated into the batch")
    pending: int = Field(description="leader: reports waiting for an aggregation job")
    unfinished_jobs: int
    last_error: str | None
    collected: bool


def add_leader_admin(app: FastAPI, ctx: DapContext, admin: Callable[..., None]) -> None:
    @app.post("/v1/admin/aggregate", response_model=PassSummary,
              responses=ERRORS, dependencies=[Depends(admin)])
    def post_aggregate() -> PassSummary:
        assert ctx.driver is not None
        report = ctx.driver.run_once()
        return PassSummary(jobs_sent=report.jobs_sent, jobs_done=report.jobs_done,
                           aggregated=report.aggregated, rejected=report.rejected,
                           errors=report.errors)

    _batches(app, ctx, admin)


def add_helper_admin(app: FastAPI, ctx: DapContext, admin: Callable[..., None]) -> None:
    _batches(app, ctx, admin)


def _batches(app: FastAPI, ctx: DapContext, admin: Callable[..., None]) -> None:
    @app.get("/v1/admin/batches", response_model=list[BatchStatus],
             responses=ERRORS, dependencies=[Depends(admin)])
    def get_batches() -> list[BatchStatus]:
        return batch_status(ctx.store)


def batch_status(store: AggregatorStore) -> list[BatchStatus]:
    """Per batch: reports aggregated, waiting, unfinished jobs, and whether it is collected."""
    with store.transaction() as con:
        rows = con.execute(
            "WITH keys AS (SELECT task_id, window_label FROM dap_batches UNION "
            "SELECT task_id, window_label FROM dap_pending UNION "
            "SELECT task_id, window_label FROM dap_jobs WHERE state = 'sent') "
            "SELECT t.cohort, k.task_id, k.window_label, coalesce(b.report_count, 0), "
            "(SELECT count(*) FROM dap_pending p WHERE p.task_id = k.task_id AND "
            " p.window_label = k.window_label), "
            "(SELECT count(*) FROM dap_jobs j WHERE j.task_id = k.task_id AND "
            " j.window_label = k.window_label AND j.state = 'sent'), "
            "(SELECT max(last_error) FROM dap_jobs j WHERE j.task_id = k.task_id AND "
            " j.window_label = k.window_label AND j.state = 'sent'), "
            "coalesce(b.collected, false) "
            "FROM keys k JOIN dap_tasks t ON t.task_id = k.task_id "
            "LEFT JOIN dap_batches b ON b.task_id = k.task_id AND "
            "b.window_label = k.window_label ORDER BY t.cohort, k.window_label").fetchall()
    return [BatchStatus(cohort=r[0], task_id=b64url(bytes(r[1])), window=r[2], reports=r[3],
                        pending=r[4], unfinished_jobs=r[5], last_error=r[6], collected=r[7])
            for r in rows]

