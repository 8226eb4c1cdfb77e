"""Strict request and response bodies of the HTTP API (no lax coercion: "1" is not an int)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

STRICT = ConfigDict(strict=True, extra="forbid")
COHORT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PERIOD_PATTERN = r"^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$"


class Problem(BaseModel):
    """Every error answer: one human-readable sentence saying what went wrong and what to do."""

    detail: str


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
    epsilon: float
    delta: float
    mechanism: str
    period: str = Field(description="how periods are named; iso-week means e.g. 2026-W48")


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


class HoldInfo(BaseModel):
    cohort: str
    period: str
    reason: str
    held_at: str


class Summary(BaseModel):
    confidence: float
    metrics: list[dict[str, Any]]
    cohorts: list[dict[str, Any]]
    org: list[dict[str, Any]]


class Review(BaseModel):
    schema_version: int
    fields: list[dict[str, Any]]
    k_min: int
    min_contributors: int
    stored_per_report: str
    cohorts: list[dict[str, Any]]
    releases: list[ReleaseSummary]
    holds: list[HoldInfo]
    audit_log: list[dict[str, Any]]
