"""The HTTP API (FastAPI): enrollment, report ingest, admin and privacy endpoints, dashboard.

One process, one worker: the app owns the aggregator's DuckDB through one AggregatorStore,
whose lock serialises every access from FastAPI's worker threads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.middleware.trustedhost import TrustedHostMiddleware

from worktally.aggregator import api_models as m
from worktally.aggregator.dashboard import render_dashboard
from worktally.aggregator.enrollment import enroll
from worktally.aggregator.errors import AggregatorError, PayloadTooLarge, PolicyViolation
from worktally.aggregator.ingest import ingest
from worktally.aggregator.provisioning import (
    check_token,
    load_private_key,
    open_store,
    public_key_bytes,
)
from worktally.aggregator.releases import Release, hold, list_releases, release, unhold
from worktally.aggregator.review import build_review, render_review
from worktally.aggregator.settings import PERIOD_KIND, DataDir
from worktally.aggregator.summary import build_summary, org_rows, release_row
from worktally.client.wire.envelope import MAX_ENVELOPE_BYTES
from worktally.client.wire.schema import SCHEMA_VERSION

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": m.Problem} for code in (400, 401, 403, 404, 409, 413, 422)
}
# The HTML pages answer errors in JSON like the API does, and the schema must say so.
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": "error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}
    for code in (401, 403, 422)
}
TOKEN_COOKIE = "worktally_token"
IDEMPOTENCY_PATTERN = r"^[A-Za-z0-9_.:-]{8,128}$"
bearer = HTTPBearer(auto_error=False, description="the admin or privacy-officer token")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def create_app(data: DataDir, allowed_hosts: list[str] | None = None) -> FastAPI:
    """Build the app over one data directory; `allowed_hosts` enables the Host-header check."""
    store = open_store(data)
    private_key = load_private_key(data)
    public_key_b64 = base64.b64encode(public_key_bytes(private_key)).decode()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="worktally aggregator", version="1", lifespan=lifespan,
                  description="Ingests signed, sealed, locally-noised reports and releases "
                              "per-cohort sums with 95% intervals.")
    if allowed_hosts:
        # A loopback deployment refuses other Host headers, against DNS rebinding.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.exception_handler(AggregatorError)
    async def aggregator_error(_: Request, exc: AggregatorError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                 for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.get("/v1/health", response_model=m.Accepted)
    def health() -> m.Accepted:
        return m.Accepted(status="ok")

    @app.post("/v1/enroll", response_model=m.EnrollResponse, responses=ERRORS)
    def post_enroll(body: m.EnrollRequest) -> m.EnrollResponse:
        try:
            key = base64.b64decode(body.public_key, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PolicyViolation("public_key must be base64") from exc
        result = enroll(store, body.token, key)
        c = result.cohort
        return m.EnrollResponse(client_id=result.client_id, cohort=c.name,
                                aggregator_public_key=public_key_b64,
                                schema_version=SCHEMA_VERSION, epsilon=c.epsilon,
                                delta=c.delta, mechanism=c.mechanism, period=PERIOD_KIND)

    @app.post("/v1/reports", status_code=201, response_model=None,
              responses={201: {"model": m.Accepted}, 200: {"model": m.Accepted}, **ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/octet-stream": {"schema": {"type": "string",
                                                          "format": "binary"}}}}})
    async def post_report(
        request: Request,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key",
                                               pattern=IDEMPOTENCY_PATTERN)],
    ) -> JSONResponse:
        data = await _read_capped(request)
        outcome = await run_in_threadpool(ingest, store, private_key, data, idempotency_key)
        code = 201 if outcome.status == "accepted" else 200
        return JSONResponse({"status": outcome.status}, status_code=code)

    def admin(credentials: Bearer) -> None:
        check_token(store, credentials.credentials if credentials else None, "admin")

    def officer(credentials: Bearer) -> None:
        check_token(store, credentials.credentials if credentials else None, "officer")

    @app.get("/v1/admin/summary", response_model=m.Summary, responses=ERRORS,
             dependencies=[Depends(admin)])
    def get_summary() -> dict[str, Any]:
        return build_summary(list_releases(store))

    @app.get("/v1/admin/releases", response_model=list[m.ReleaseSummary], responses=ERRORS,
             dependencies=[Depends(admin)])
    def get_releases() -> list[m.ReleaseSummary]:
        return [_release_model(r) for r in list_releases(store)]

    @app.post("/v1/admin/releases", status_code=201, response_model=m.ReleaseSummary,
              responses=ERRORS, dependencies=[Depends(admin)])
    def post_release(body: m.ReleaseRequest) -> m.ReleaseSummary:
        return _release_model(release(store, body.cohort, body.period, "admin"))

    @app.get("/v1/privacy/review", response_model=m.Review, responses=ERRORS,
             dependencies=[Depends(officer)])
    def get_review() -> dict[str, Any]:
        return build_review(store)

    @app.post("/v1/privacy/holds", status_code=201, response_model=m.HoldInfo,
              responses=ERRORS, dependencies=[Depends(officer)])
    def post_hold(body: m.HoldRequest) -> m.HoldInfo:
        h = hold(store, body.cohort, body.period, body.reason)
        return m.HoldInfo(cohort=h.cohort, period=h.period, reason=h.reason,
                          held_at=h.held_at.isoformat())

    @app.delete("/v1/privacy/holds/{cohort}/{period}", response_model=m.Accepted,
                responses=ERRORS, dependencies=[Depends(officer)])
    def delete_hold(cohort: Annotated[str, Path(pattern=m.COHORT_PATTERN)],
                    period: Annotated[str, Path(pattern=m.PERIOD_PATTERN)]) -> m.Accepted:
        unhold(store, cohort, period)
        return m.Accepted(status="unheld")

    @app.get("/dashboard", response_class=HTMLResponse, responses=PAGE_ERRORS)
    def dashboard(request: Request, credentials: Bearer,
                  token: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
        used = _page_token(request, credentials, token)
        check_token(store, used, "admin")
        teams = [release_row(r) for r in list_releases(store)]
        return _html(render_dashboard(teams, org_rows(teams)), used)

    @app.get("/privacy", response_class=HTMLResponse, responses=PAGE_ERRORS)
    def privacy_page(request: Request, credentials: Bearer,
                     token: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
        used = _page_token(request, credentials, token)
        check_token(store, used, "officer")
        return _html(render_review(build_review(store)), used)

    return app


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


def _page_token(request: Request, credentials: HTTPAuthorizationCredentials | None,
                query_token: str | None) -> str | None:
    # Browsers cannot send a bearer header from a typed URL: accept ?token= once, then a cookie.
    if credentials is not None:
        return credentials.credentials
    return query_token or request.cookies.get(TOKEN_COOKIE)


def _html(page: str, token: str | None) -> HTMLResponse:
    response = HTMLResponse(page, headers={"Cache-Control": "no-store",
                                           "Content-Security-Policy": "default-src 'none'; "
                                           "style-src 'unsafe-inline'; img-src data:"})
    if token:
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
    return response


def _release_model(r: Release) -> m.ReleaseSummary:
    return m.ReleaseSummary(release_id=r.release_id, cohort=r.cohort, period=r.period,
                            released_at=r.released_at.isoformat(), released_by=r.released_by,
                            n=r.n, roster_size=r.roster_size, k_min=r.k_min,
                            min_contributors=r.min_contributors, epsilon=r.epsilon,
                            delta=r.delta, mechanism=r.mechanism,
                            schema_version=r.schema_version)
