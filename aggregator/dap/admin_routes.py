"""Operators' secure-mode endpoints (JSON, bearer-authenticated): issue enrollment tokens and
run aggregation now (leader), accept a task (helper), and see batches' progress (both)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel, Field

from worktally.aggregator.api_models import COHORT_PATTERN, ERRORS, STRICT
from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.dap.tasks import DEFAULT_K_SECURE, HelperPolicy, accept_task
from worktally.aggregator.enrollment import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, issue_tokens
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import b64url


class TokenRequest(BaseModel):
    model_config = STRICT
    cohort: str = Field(pattern=COHORT_PATTERN)
    count: int = Field(1, ge=1, le=10000, description="new slots to issue")
    slot: int | None = Field(None, ge=1, description="reissue this slot's token instead")
    days: int = Field(DEFAULT_TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)


class IssuedToken(BaseModel):
    cohort: str
    slot: int
    token: str
    expires_at: str


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


class AcceptedTask(BaseModel):
    task_id: str
    summary: dict[str, Any]


def add_leader_admin(app: FastAPI, ctx: DapContext, admin: Callable[..., None]) -> None:
    @app.post("/v1/admin/tokens", status_code=201, response_model=list[IssuedToken],
              responses=ERRORS, dependencies=[Depends(admin)])
    def post_tokens(body: TokenRequest) -> list[IssuedToken]:
        issued = issue_tokens(ctx.store, body.cohort, body.count, body.slot, body.days)
        return [IssuedToken(cohort=t.cohort, slot=t.slot, token=t.token,
                            expires_at=t.expires_at.isoformat()) for t in issued]

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
    @app.put("/v1/admin/tasks", status_code=201, response_model=AcceptedTask,
             responses=ERRORS, dependencies=[Depends(admin)])
    def put_task(body: dict[str, Any],
                 max_epsilon: Annotated[float, Query(gt=0, le=64)] = 4.0,
                 max_epsilon_per_year: Annotated[float, Query(gt=0, le=1000)] = 16.0,
                 min_k: Annotated[int, Query(ge=2, le=10**6)] = DEFAULT_K_SECURE,
                 ) -> AcceptedTask:
        policy = HelperPolicy(max_epsilon, max_epsilon_per_year, min_k)
        task = accept_task(ctx.store, body, policy, ctx.models)
        return AcceptedTask(task_id=b64url(task.task_id), summary=task.config.summary())

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

