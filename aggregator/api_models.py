"""Strict request and response bodies of the HTTP API (no lax coercion: "1" is not an int)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from worktally.client.wire.windows import LABEL_PATTERN

STRICT = ConfigDict(strict=True, extra="forbid")
COHORT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PERIOD_PATTERN = LABEL_PATTERN


class Problem(BaseModel):
    """Every error answer: one human-readable sentence saying what went wrong and what to do.
    DAP's resources answer RFC 9457 problem documents, which add `type`, `title`, `status`
    and `taskid`."""

    detail: str
    type: str | None = None
    title: str | None = None
    status: int | None = None
    taskid: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (400, 401, 403, 404, 409, 413, 422)
}


class EnrollRequest(BaseModel):
    model_config = STRICT
    token: str = Field(min_length=1, max_length=200)
    public_key: str = Field(pattern=r"^[A-Za-z0-9+/]{43}=$",
                            description="base64 of the raw 32-byte Ed25519 public key")


class EnrollResponse(BaseModel):
    client_id: str
    cohort: str
    aggregator_public_key: str = Field(description="base64 of the raw 32-byte X25519 key")
    schema_version: int
    epsilon: float = Field(description="ε per release: what one report spends")
    delta: float
    mechanism: str
    period: str = Field(description="the release window kind: week, month or quarter")
    mode: str = Field(description="local (noise on the machine) or secure (Prio3)")
    slot: int = Field(description="the roster slot this key fills")
    task_id: str | None = Field(None, description="secure mode: the task id (base64url)")
    task_config: str | None = Field(None, description="secure mode: the encoded "
                                    "TaskConfiguration (base64url); its SHA-256 is task_id")
    leader_hpke_configs: str | None = Field(None, description="secure mode: the leader's "
                                            "HpkeConfigList (base64url)")
    helper_hpke_configs: str | None = Field(None, description="secure mode: the helper's "
                                            "HpkeConfigList as the leader fetched it; check "
                                            "it against the helper's own /hpke_config")


class Accepted(BaseModel):
    status: str = Field(description="accepted (new) or duplicate (a retry, counted once)")


class ReleaseRequest(BaseModel):
    model_config = STRICT
    cohort: str = Field(pattern=COHORT_PATTERN)
    period: str = Field(pattern=PERIOD_PATTERN)


class HoldRequest(ReleaseRequest):
    reason: str = Field(min_length=1, max_length=500)


class ReleaseSummary(BaseModel):
    release_id: int
    cohort: str
    period: str
    released_at: str
    released_by: str
    n: int
    roster_size: int
    k_min: int
    min_contributors: int
    epsilon: float
    delta: float
    mechanism: str
    schema_version: int
    mode: str = Field("local", description="local (noised on each machine) or secure (Prio3)")
    noise_copies: int = Field(0, description="secure mode: 1 (helper adds noise) or 2 (both)")


class HoldInfo(BaseModel):
    cohort: str
    period: str
    reason: str
    held_at: str


class Summary(BaseModel):
    confidence: float
    schema_version: int
    metrics: list[dict[str, Any]]
    cohorts: list[dict[str, Any]]


class ReviewRelease(ReleaseSummary):
    figures: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per metric, the released figure as the summary "
                                          "shows it (client/wire/display.py)")


class Review(BaseModel):
    schema_version: int
    fields: list[dict[str, Any]]
    k_min: int
    min_contributors: int
    stored_per_report: str
    yearly_epsilon_cap: float = Field(description="the most ε a client spends per budget year")
    cohorts: list[dict[str, Any]] = Field(description="each cohort's policy, and the ε its "
                                          "releases spent per person this budget year and "
                                          "what is left of the yearly cap")
    tasks: list[dict[str, Any]] = []
    releases: list[ReviewRelease]
    holds: list[HoldInfo]
    audit_log: list[dict[str, Any]]
