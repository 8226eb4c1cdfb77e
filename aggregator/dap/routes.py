"""The DAP HTTP resources (draft-18 §"HTTP Resources Reference"), as thin FastAPI handlers.

Both roles: `GET /hpke_config`. Leader: `POST /tasks/{task-id}/reports` (client-signed
uploads) and `POST /tasks/{task-id}/collection_jobs` (the collector, with the admin token).
Helper: `POST /tasks/{task-id}/aggregation_jobs` and `.../aggregate_shares` (the leader, with
the task's bearer token), and their `GET`s. Resource ids are derived from the request body,
so a repeat of a request is recognised and answered from storage (201 the first time, 200
after). Errors are RFC 9457 problem documents with DAP's error types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from worktally.aggregator.dap.aggregate_shares import handle_aggregate_share, stored_share
from worktally.aggregator.dap.collection import collect, collection_job_id, stored_collection
from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.dap.jobs import JOB_ID_SIZE, MAX_JOB_BYTES, handle_job, stored_response
from worktally.aggregator.dap.keys import CONFIG_MAX_AGE_S
from worktally.aggregator.dap.tasks import Task, check_leader_token, load_task
from worktally.aggregator.dap.upload import MAX_UPLOAD_BYTES, REASONS_HEADER, upload
from worktally.aggregator.errors import DapProblem, NotFound, PayloadTooLarge
from worktally.client.wire.dap import DapError, b64url, from_b64url
from worktally.client.wire.dap.aggregation import CollectionJobReq
from worktally.client.wire.dap.client import CLIENT_HEADER, SIGNATURE_HEADER
from worktally.client.wire.dap.media import (
    AGGREGATE_SHARE,
    AGGREGATE_SHARE_REQ,
    AGGREGATION_JOB_INIT_REQ,
    AGGREGATION_JOB_RESP,
    COLLECTION_JOB_REQ,
    COLLECTION_JOB_RESP,
    ERROR_URN,
    HPKE_CONFIG_LIST,
    PROBLEM,
    UPLOAD_ERRORS,
    UPLOAD_REQ,
    matches,
)
from worktally.client.wire.dap.messages import TASK_ID_SIZE
from worktally.client.wire.dap.window import query_window, window_query

ID = r"^[A-Za-z0-9_-]{1,64}$"
TaskId = Annotated[str, Path(pattern=ID, description="the task id, unpadded base64url")]
ResourceId = Annotated[str, Path(pattern=ID, description="a resource id, unpadded base64url")]
bearer = HTTPBearer(auto_error=False, description="the task's leader token, or the admin's")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
_ERROR_BODY = {"schema": {"$ref": "#/components/schemas/Problem"}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": "error", "content": {"application/json": _ERROR_BODY,
                                                PROBLEM: _ERROR_BODY}}
    for code in (400, 401, 403, 404, 409, 413, 415, 422, 502, 503)
}


def _binary(media: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {media: {"schema": {"type": "string", "format": "binary"}}}}


def _body(media: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        media: {"schema": {"type": "string", "format": "binary"}}}}}


def problem_response(exc: DapProblem) -> JSONResponse:
    body: dict[str, Any] = {"type": ERROR_URN + exc.kind, "title": exc.kind,
                            "status": exc.status, "detail": str(exc)}
    if exc.task_id is not None:
        body["taskid"] = b64url(exc.task_id)
    return JSONResponse(body, status_code=exc.status, media_type=PROBLEM)


def add_common_routes(app: FastAPI, ctx: DapContext) -> None:
    @app.get("/hpke_config", response_class=Response,
             responses={200: _binary(HPKE_CONFIG_LIST, "the aggregator's HPKE configs")})
    def hpke_config() -> Response:
        return Response(ctx.ring.config_list().encode(), media_type=HPKE_CONFIG_LIST,
                        headers={"Cache-Control": f"max-age={CONFIG_MAX_AGE_S}"})


def add_leader_routes(app: FastAPI, ctx: DapContext, admin: Callable[..., None]) -> None:
    @app.post("/tasks/{task_id}/reports", response_class=Response, openapi_extra=_body(UPLOAD_REQ),
              responses={200: {"description": "every report accepted"},
                         409: _binary(UPLOAD_ERRORS, "reports refused, with why"), **ERRORS})
    async def post_reports(
        request: Request, task_id: TaskId,
        client: Annotated[str | None, Header(alias=CLIENT_HEADER, max_length=64)] = None,
        signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=200)] = None,
    ) -> Response:
        task = _task(ctx, task_id)
        _media(request, UPLOAD_REQ, task)
        body = await _read(request, MAX_UPLOAD_BYTES)
        outcome = await run_in_threadpool(upload, ctx.store, task, ctx.ring.ids(), body,
                                          client, signature)
        media = UPLOAD_ERRORS if outcome.errors else None
        headers = {REASONS_HEADER: ",".join(outcome.reasons)} if outcome.reasons else None
        return Response(outcome.body(), status_code=outcome.status, media_type=media,
                        headers=headers)

    @app.post("/tasks/{task_id}/collection_jobs", response_class=Response,
              dependencies=[Depends(admin)], openapi_extra=_body(COLLECTION_JOB_REQ),
              responses={201: _binary(COLLECTION_JOB_RESP, "both shares, sealed to the "
                                                           "collector"), **ERRORS})
    async def post_collection(request: Request, task_id: TaskId) -> Response:
        task = _task(ctx, task_id)
        _media(request, COLLECTION_JOB_REQ, task)
        body = await _read(request, 4096)
        try:
            window = query_window(CollectionJobReq.decode(body).query)
        except DapError as exc:
            raise DapProblem("invalidMessage", str(exc), 400, task.task_id) from exc
        if CollectionJobReq(window_query(window)).encode() != body:
            raise DapProblem("invalidMessage", "a collection names one window, with no "
                             "aggregation parameter or extensions", 400, task.task_id)
        assert ctx.driver is not None
        collected = await run_in_threadpool(collect, ctx.store, task, window, ctx.driver,
                                            ctx.peer, ctx.noise, "collector")
        job_id = b64url(collection_job_id(body))
        return Response(collected.response.encode(), status_code=201,
                        media_type=COLLECTION_JOB_RESP, headers={
                            "Location": f"/tasks/{task_id}/collection_jobs/{job_id}"})

    @app.get("/tasks/{task_id}/collection_jobs/{job_id}", response_class=Response,
             dependencies=[Depends(admin)],
             responses={200: _binary(COLLECTION_JOB_RESP, "both shares, sealed to the "
                                                          "collector"), **ERRORS})
    def get_collection(task_id: TaskId, job_id: ResourceId) -> Response:
        task = _task(ctx, task_id)
        collected = stored_collection(ctx.store, task, _id(job_id, 16, task))
        if collected is None:
            raise DapProblem("invalidMessage", "no finished collection job with this id", 404,
                             task.task_id)
        return Response(collected.response.encode(), media_type=COLLECTION_JOB_RESP)


def add_helper_routes(app: FastAPI, ctx: DapContext) -> None:
    def leader(task: Task, credentials: HTTPAuthorizationCredentials | None) -> None:
        check_leader_token(task, credentials.credentials if credentials else None)

    @app.post("/tasks/{task_id}/aggregation_jobs", response_class=Response, status_code=201,
              openapi_extra=_body(AGGREGATION_JOB_INIT_REQ),
              responses={201: _binary(AGGREGATION_JOB_RESP, "the job's result"),
                         200: _binary(AGGREGATION_JOB_RESP, "a repeat: the stored result"),
                         **ERRORS})
    async def post_job(request: Request, task_id: TaskId, credentials: Bearer) -> Response:
        task = _task(ctx, task_id)
        leader(task, credentials)
        _media(request, AGGREGATION_JOB_INIT_REQ, task)
        body = await _read(request, MAX_JOB_BYTES)
        result = await run_in_threadpool(handle_job, ctx.store, task, ctx.keys, body)
        return Response(result.response, status_code=201 if result.created else 200,
                        media_type=AGGREGATION_JOB_RESP, headers={
                            "Location": f"/tasks/{task_id}/aggregation_jobs/"
                                        f"{b64url(result.job_id)}"})

    @app.get("/tasks/{task_id}/aggregation_jobs/{job_id}", response_class=Response,
             responses={200: _binary(AGGREGATION_JOB_RESP, "the job's result"), **ERRORS})
    def get_job(task_id: TaskId, job_id: ResourceId, credentials: Bearer) -> Response:
        task = _task(ctx, task_id)
        leader(task, credentials)
        stored = stored_response(ctx.store, task, _id(job_id, JOB_ID_SIZE, task))
        if stored is None:
            raise DapProblem("unrecognizedAggregationJob", "no such aggregation job", 404,
                             task.task_id)
        return Response(stored, media_type=AGGREGATION_JOB_RESP)

    @app.post("/tasks/{task_id}/aggregate_shares", response_class=Response, status_code=201,
              openapi_extra=_body(AGGREGATE_SHARE_REQ),
              responses={201: _binary(AGGREGATE_SHARE, "the helper's sealed share"),
                         200: _binary(AGGREGATE_SHARE, "a repeat: the stored share"),
                         **ERRORS})
    async def post_share(request: Request, task_id: TaskId, credentials: Bearer) -> Response:
        task = _task(ctx, task_id)
        leader(task, credentials)
        _media(request, AGGREGATE_SHARE_REQ, task)
        body = await _read(request, 4096)
        result = await run_in_threadpool(handle_aggregate_share, ctx.store, task, body,
                                         ctx.noise)
        return Response(result.response, status_code=201 if result.created else 200,
                        media_type=AGGREGATE_SHARE, headers={
                            "Location": f"/tasks/{task_id}/aggregate_shares/"
                                        f"{b64url(result.share_id)}"})

    @app.get("/tasks/{task_id}/aggregate_shares/{share_id}", response_class=Response,
             responses={200: _binary(AGGREGATE_SHARE, "the helper's sealed share"), **ERRORS})
    def get_share(task_id: TaskId, share_id: ResourceId, credentials: Bearer) -> Response:
        task = _task(ctx, task_id)
        leader(task, credentials)
        stored = stored_share(ctx.store, task, _id(share_id, 16, task))
        if stored is None:
            raise DapProblem("invalidMessage", "no such aggregate share", 404, task.task_id)
        return Response(stored, media_type=AGGREGATE_SHARE)


def _task(ctx: DapContext, task_id: str) -> Task:
    try:
        raw = from_b64url(task_id, TASK_ID_SIZE, "task id")
        return load_task(ctx.store, raw)
    except (DapError, NotFound) as exc:
        raise DapProblem("unrecognizedTask", "no task with this id here", 404) from exc


def _id(text: str, size: int, task: Task) -> bytes:
    try:
        return from_b64url(text, size, "resource id")
    except DapError as exc:
        raise DapProblem("invalidMessage", str(exc), 404, task.task_id) from exc


def _media(request: Request, expected: str, task: Task) -> None:
    if not matches(request.headers.get("content-type"), expected):
        raise DapProblem("invalidMessage", f"the body must be {expected}", 415, task.task_id)


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"this resource takes at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"this resource takes at most {limit} bytes")
    return bytes(body)
