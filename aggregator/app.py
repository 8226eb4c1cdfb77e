"""The HTTP API (FastAPI): enrollment, report ingest, admin and privacy endpoints, dashboard,
and the secure-mode (DAP) resources of the role the data directory was made for.

One process, one worker: the app owns the aggregator's DuckDB through one AggregatorStore,
whose lock serialises every access from FastAPI's worker threads. A leader serves everything
(local-mode cohorts too); a helper serves only its DAP resources, its HPKE config and its
operators' endpoints.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.middleware.trustedhost import TrustedHostMiddleware

from worktally.aggregator import api_models as m
from worktally.aggregator import local_reports
from worktally.aggregator.auth import authenticate
from worktally.aggregator.body_limit import BodyLimit, RouteLimit
from worktally.aggregator.dap.admin_routes import add_helper_admin, add_leader_admin
from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.dap.jobs import MAX_JOB_BYTES
from worktally.aggregator.dap.model import NoiseFn, SecureModel
from worktally.aggregator.dap.routes import (
    add_common_routes,
    add_helper_routes,
    add_leader_routes,
    problem_response,
)
from worktally.aggregator.dap.tasks import task_for_cohort
from worktally.aggregator.dap.upload import MAX_UPLOAD_BYTES
from worktally.aggregator.dashboard import render_dashboard
from worktally.aggregator.enrollment import enroll
from worktally.aggregator.errors import (
    AggregatorError,
    DapProblem,
    PayloadTooLarge,
    PolicyViolation,
)
from worktally.aggregator.ingest import ingest
from worktally.aggregator.operator_api import add_operator_routes
from worktally.aggregator.provisioning import (
    load_private_key,
    open_store,
    public_key_bytes,
)
from worktally.aggregator.releases import list_releases
from worktally.aggregator.review import build_review, render_review
from worktally.aggregator.settings import DataDir
from worktally.aggregator.store import AggregatorStore, private_umask
from worktally.aggregator.summary import build_summary, current_rows
from worktally.aggregator.web_auth import add_login_routes, guard, html_page
from worktally.client.wire.dap import b64url
from worktally.client.wire.envelope import IDEMPOTENCY_KEY_PATTERN, MAX_ENVELOPE_BYTES
from worktally.client.wire.measurement import SCHEMA_VERSION

ERRORS = m.ERRORS
TASK_FILE_LIMIT = 64 * 1024
# Routes whose bodies may be larger (or must be smaller) than body_limit.DEFAULT_LIMIT.
BODY_LIMITS = (
    RouteLimit(r"/v1/reports", MAX_ENVELOPE_BYTES),
    RouteLimit(r"/tasks/[^/]+/reports", MAX_UPLOAD_BYTES),
    RouteLimit(r"/tasks/[^/]+/aggregation_jobs", MAX_JOB_BYTES),
    RouteLimit(r"/v1/admin/tasks", TASK_FILE_LIMIT),
)
# The HTML pages answer a browser without a session with a sign-in page (HTML), and
# anything else in JSON like the API does; the schema must say both.
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": "error", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}},
        "text/html": {}}}
    for code in (401, 403, 422)
}
bearer = HTTPBearer(auto_error=False, description="the admin or privacy-officer token")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def create_app(data: DataDir, allowed_hosts: list[str] | None = None, *,
               role: str | None = None, noise: NoiseFn | None = None,
               driver_interval: float = 5.0, models: dict[int, SecureModel] | None = None,
               on_sent: Callable[[bytes], None] | None = None) -> FastAPI:
    """Build the app over one data directory; `allowed_hosts` enables the Host-header check.

    `role` must match the data directory's (None: whatever it is). `noise` replaces the
    OpenDP draw (tests), `driver_interval` is the leader's aggregation period (0: only on
    demand), `on_sent` is told each aggregation job id the leader has sent.
    """
    private_umask()
    store = open_store(data)
    try:
        with store.transaction() as con:
            local_reports.sweep(con, store.root)  # keys of windows released before a crash
        ctx = DapContext.open(store, data, role, noise, driver_interval, models, on_sent)
    except BaseException:
        store.close()
        raise

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.start()
        yield
        ctx.close()
        store.close()

    # No /docs or /redoc: they answered without auth and loaded Swagger from a CDN. The
    # OpenAPI document stays (docs/admin.md lists every route it holds).
    app = FastAPI(title=f"worktally aggregator ({ctx.role})", version="1", lifespan=lifespan,
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None,
                  description="Local mode: ingests signed, sealed, locally-noised reports. "
                              "Secure mode: the leader or helper of DAP draft-18 over Prio3. "
                              "Releases per-cohort figures with 95% intervals.")
    # Every route's body is capped before it is read, authenticated or parsed.
    app.add_middleware(BodyLimit, routes=BODY_LIMITS)
    if allowed_hosts:
        # A loopback deployment refuses other Host headers, against DNS rebinding.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.exception_handler(AggregatorError)
    async def aggregator_error(_: Request, exc: AggregatorError) -> JSONResponse:
        if isinstance(exc, DapProblem):
            return problem_response(exc)
        body = {"detail": str(exc)}
        if exc.reason:
            body["reason"] = exc.reason
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                 for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.get("/v1/health", response_model=m.Accepted)
    def health() -> m.Accepted:
        return m.Accepted(status="ok")

    def admin(credentials: Bearer) -> None:
        authenticate(store, credentials.credentials if credentials else None, "admin")

    def officer(credentials: Bearer) -> None:
        authenticate(store, credentials.credentials if credentials else None, "officer")

    add_common_routes(app, ctx)
    add_operator_routes(app, ctx)
    if ctx.role == "helper":
        add_helper_routes(app, ctx)
        add_helper_admin(app, ctx, admin)
        return app
    add_leader_routes(app, ctx, admin)
    add_leader_admin(app, ctx, admin)
    _local_routes(app, store, data, ctx, admin, officer)
    return app


def _local_routes(app: FastAPI, store: AggregatorStore, data: DataDir, ctx: DapContext,
                  admin: Callable[..., None], officer: Callable[..., None]) -> None:
    """The leader's enrollment, local-mode ingest, releases, reviews and pages."""
    private_key = load_private_key(data)
    public_key_b64 = base64.b64encode(public_key_bytes(private_key)).decode()

    @app.post("/v1/enroll", response_model=m.EnrollResponse, responses=ERRORS)
    def post_enroll(body: m.EnrollRequest) -> m.EnrollResponse:
        try:
            key = base64.b64decode(body.public_key, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PolicyViolation("public_key must be base64") from exc
        result = enroll(store, body.token, key)
        c = result.cohort
        task = task_for_cohort(store, c.name)
        if task is None:
            return m.EnrollResponse(client_id=result.client_id, cohort=c.name,
                                    aggregator_public_key=public_key_b64,
                                    schema_version=SCHEMA_VERSION, epsilon=c.epsilon,
                                    delta=c.delta, mechanism=c.mechanism, period=c.window,
                                    mode="local", slot=result.slot)
        config = task.config
        return m.EnrollResponse(
            client_id=result.client_id, cohort=c.name, aggregator_public_key=public_key_b64,
            schema_version=config.schema_version, epsilon=config.epsilon_release, delta=0.0,
            mechanism=c.mechanism, period=config.window_kind, mode="secure", slot=result.slot,
            task_id=b64url(task.task_id), task_config=b64url(config.encoded),
            leader_hpke_configs=b64url(ctx.ring.config_list().encode()),
            helper_hpke_configs=b64url(task.helper_hpke.encode()) if task.helper_hpke
            else None)

    @app.post("/v1/reports", status_code=201, response_model=None,
              responses={201: {"model": m.Accepted}, 200: {"model": m.Accepted}, **ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/octet-stream": {"schema": {"type": "string",
                                                          "format": "binary"}}}}})
    async def post_report(
        request: Request,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key",
                                               pattern=IDEMPOTENCY_KEY_PATTERN)],
    ) -> JSONResponse:
        data = await _read_capped(request)
        outcome = await run_in_threadpool(ingest, store, private_key, data, idempotency_key)
        code = 201 if outcome.status == "accepted" else 200
        return JSONResponse({"status": outcome.status}, status_code=code)

    @app.get("/v1/admin/summary", response_model=m.Summary, responses=ERRORS,
             dependencies=[Depends(admin)])
    def get_summary() -> dict[str, Any]:
        return build_summary(list_releases(store))

    add_login_routes(app, store)

    @app.get("/dashboard", response_class=HTMLResponse, responses=PAGE_ERRORS)
    def dashboard(request: Request, credentials: Bearer) -> Response:
        allowed = guard(request, store, credentials, "admin")
        if isinstance(allowed, Response):
            return allowed
        return html_page(render_dashboard(current_rows(list_releases(store))))

    @app.get("/privacy", response_class=HTMLResponse, responses=PAGE_ERRORS)
    def privacy_page(request: Request, credentials: Bearer) -> Response:
        allowed = guard(request, store, credentials, "officer")
        if isinstance(allowed, Response):
            return allowed
        return html_page(render_review(build_review(store)))


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ENVELOPE_BYTES:
        raise PayloadTooLarge(f"a report envelope is at most {MAX_ENVELOPE_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_ENVELOPE_BYTES:
            raise PayloadTooLarge(f"a report envelope is at most {MAX_ENVELOPE_BYTES} bytes")
    return bytes(body)
