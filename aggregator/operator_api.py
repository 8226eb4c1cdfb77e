"""The operators' HTTP API: every admin and privacy-officer action of `operations.OPERATIONS`
while the server runs, each a thin route over an `Operator` method, with the actor the bearer
token stands for (so the audit log names the token that acted).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from worktally.aggregator import api_models as m
from worktally.aggregator.auth import Actor, authenticate
from worktally.aggregator.cohort_changes import MAX_ROSTER
from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.enrollment import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS
from worktally.aggregator.operator import Operator, release_json
from worktally.aggregator.releases import list_releases
from worktally.aggregator.settings import (
    DEFAULT_EPSILON,
    DEFAULT_K,
    DEFAULT_WINDOW,
    MIN_EPSILON,
)
from worktally.client.wire.dap.task import MAX_EPSILON

ERRORS = m.ERRORS
# Routes that may talk to the helper: it can be down (503) or refuse (502).
PEER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS, **{code: {"model": m.Problem} for code in (502, 503)}}
bearer = HTTPBearer(auto_error=False, description="the admin or privacy-officer token")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
Cohort = Annotated[str, Path(pattern=m.COHORT_PATTERN)]
Slot = Annotated[int, Path(ge=1, le=MAX_ROSTER)]
Period = Annotated[str, Path(pattern=m.PERIOD_PATTERN)]
CohortQuery = Annotated[str | None, Query(pattern=m.COHORT_PATTERN)]
Json = dict[str, Any]


class CohortRequest(BaseModel):
    model_config = m.STRICT
    name: str = Field(pattern=m.COHORT_PATTERN)
    roster: int = Field(ge=1, le=MAX_ROSTER)
    window: Literal["week", "month", "quarter"] = DEFAULT_WINDOW  # type: ignore[assignment]
    epsilon: float = Field(DEFAULT_EPSILON, ge=MIN_EPSILON, le=MAX_EPSILON)
    k_min: int | None = Field(None, ge=2, le=MAX_ROSTER)
    helper_url: str | None = Field(None, pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(/\S*)?$",
                                   max_length=512, description="makes a secure cohort")
    leader_url: str | None = Field(None, pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(/\S*)?$",
                                   max_length=512)
    noise: Literal["helper", "both"] = "helper"


class RosterRequest(BaseModel):
    model_config = m.STRICT
    roster: int = Field(ge=1, le=MAX_ROSTER)


class TokenRequest(BaseModel):
    model_config = m.STRICT
    cohort: str = Field(pattern=m.COHORT_PATTERN)
    count: int = Field(1, ge=1, le=10000, description="new slots to issue")
    slot: int | None = Field(None, ge=1, le=MAX_ROSTER,
                             description="reissue this slot's token instead")
    days: int = Field(DEFAULT_TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)


class ExpiryRequest(BaseModel):
    model_config = m.STRICT
    days: int = Field(ge=0, le=MAX_TOKEN_DAYS, description="from now; 0 expires it now")


def _actor(request: Request, credentials: HTTPAuthorizationCredentials | None,
           roles: tuple[str, ...]) -> Actor:
    ctx: DapContext = request.app.state.dap
    return authenticate(ctx.store, credentials.credentials if credentials else None, roles)


def admin_actor(request: Request, credentials: Bearer) -> Actor:
    return _actor(request, credentials, ("admin",))


def officer_actor(request: Request, credentials: Bearer) -> Actor:
    return _actor(request, credentials, ("officer",))


def any_actor(request: Request, credentials: Bearer) -> Actor:
    return _actor(request, credentials, ("officer", "admin"))


admin = Annotated[Actor, Depends(admin_actor)]
officer = Annotated[Actor, Depends(officer_actor)]
either = Annotated[Actor, Depends(any_actor)]


def add_operator_routes(app: FastAPI, ctx: DapContext) -> None:
    """The routes of `operations.OPERATIONS` this server's role serves."""
    app.state.dap = ctx

    def op(actor: Actor) -> Operator:
        return Operator(ctx.store, actor, lambda: ctx)

    @app.get("/v1/privacy/review", response_model=m.Review, responses=ERRORS)
    def get_review(actor: officer) -> Json:
        return op(actor).review()

    @app.get("/v1/audit", response_model=Json, responses=ERRORS)
    def get_audit(actor: either, cohort: CohortQuery = None,
                  period: Annotated[str | None, Query(pattern=m.PERIOD_PATTERN)] = None,
                  action: Annotated[str | None, Query(max_length=40)] = None,
                  who: Annotated[str | None, Query(alias="actor", max_length=80)] = None,
                  since: Annotated[str | None, Query(max_length=40)] = None,
                  until: Annotated[str | None, Query(max_length=40)] = None,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Json:
        return op(actor).audit(cohort, period, action, who, since, until, limit)

    if ctx.role == "helper":
        @app.put("/v1/admin/tasks", status_code=201, response_model=Json, responses=ERRORS)
        def put_task(actor: admin, body: Json,
                     max_epsilon: Annotated[float, Query(gt=0, le=64)] = 4.0,
                     max_epsilon_per_year: Annotated[float, Query(gt=0, le=1000)] = 16.0,
                     min_k: Annotated[int, Query(ge=2, le=10**6)] = DEFAULT_K) -> Json:
            return op(actor).task_accept(body, max_epsilon, max_epsilon_per_year, min_k)
        return

    @app.post("/v1/admin/cohorts", status_code=201, response_model=Json, responses=ERRORS)
    def post_cohort(actor: admin, body: CohortRequest) -> Json:
        return op(actor).cohort_add(body.name, body.roster, body.window, body.epsilon,
                                    body.k_min, body.helper_url, body.leader_url, body.noise)

    @app.get("/v1/admin/cohorts", response_model=Json, responses=ERRORS)
    def get_cohorts(actor: admin) -> Json:
        return op(actor).cohort_list()

    @app.put("/v1/admin/cohorts/{cohort}/roster", response_model=Json, responses=ERRORS)
    def put_roster(actor: admin, cohort: Cohort, body: RosterRequest) -> Json:
        return op(actor).cohort_roster(cohort, body.roster)

    @app.post("/v1/admin/cohorts/{cohort}/retire", response_model=Json, responses=ERRORS)
    def post_retire(actor: admin, cohort: Cohort) -> Json:
        return op(actor).cohort_retire(cohort)

    @app.post("/v1/admin/tokens", status_code=201, response_model=list[Json],
              responses=ERRORS)
    def post_tokens(actor: admin, body: TokenRequest) -> list[Json]:
        issued: list[Json] = op(actor).tokens_issue(body.cohort, body.count, body.slot,
                                                    body.days)["tokens"]
        return issued

    @app.get("/v1/admin/tokens", response_model=Json, responses=ERRORS)
    def get_tokens(actor: admin, cohort: CohortQuery = None) -> Json:
        return op(actor).tokens_list(cohort)

    @app.patch("/v1/admin/tokens/{cohort}/{slot}", response_model=Json, responses=ERRORS)
    def patch_token(actor: admin, cohort: Cohort, slot: Slot, body: ExpiryRequest) -> Json:
        return op(actor).tokens_expiry(cohort, slot, body.days)

    @app.delete("/v1/admin/tokens/{cohort}", response_model=Json, responses=ERRORS)
    def delete_tokens(actor: admin, cohort: Cohort,
                      slot: Annotated[int | None, Query(ge=1, le=MAX_ROSTER)] = None) -> Json:
        return op(actor).tokens_revoke(cohort, slot)

    @app.get("/v1/admin/clients", response_model=Json, responses=ERRORS)
    def get_clients(actor: admin, cohort: CohortQuery = None) -> Json:
        return op(actor).clients_count(cohort)

    @app.delete("/v1/admin/clients/{cohort}/{slot}", response_model=Json, responses=ERRORS)
    def delete_client(actor: admin, cohort: Cohort, slot: Slot) -> Json:
        return op(actor).clients_revoke(cohort, slot)

    @app.get("/v1/admin/windows", response_model=Json, responses=ERRORS)
    def get_windows(actor: admin, cohort: CohortQuery = None) -> Json:
        return op(actor).windows_list(cohort)

    @app.get("/v1/admin/releases", response_model=list[m.ReleaseSummary], responses=ERRORS,
             dependencies=[Depends(admin_actor)])
    def get_releases() -> list[Json]:
        return [release_json(r) for r in list_releases(ctx.store)]

    @app.post("/v1/admin/releases", status_code=201, response_model=m.ReleaseSummary,
              responses=PEER_ERRORS)
    def post_release(actor: admin, body: m.ReleaseRequest) -> Json:
        return op(actor).release(body.cohort, body.period)

    @app.post("/v1/privacy/holds", status_code=201, response_model=m.HoldInfo,
              responses=ERRORS)
    def post_hold(actor: officer, body: m.HoldRequest) -> Json:
        return op(actor).hold(body.cohort, body.period, body.reason)

    @app.get("/v1/privacy/holds", response_model=Json, responses=ERRORS)
    def get_holds(actor: officer) -> Json:
        return op(actor).holds_list()

    @app.delete("/v1/privacy/holds/{cohort}/{period}", response_model=m.Accepted,
                responses=ERRORS)
    def delete_hold(actor: officer, cohort: Cohort, period: Period) -> Json:
        return op(actor).unhold(cohort, period)
