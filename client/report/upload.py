"""Deliver a sealed report: HTTP POST with backoff and a stable Idempotency-Key, every try logged.

Only the sealed envelope and the idempotency key go over the wire. A retry (in this run or a
later `report send`) sends the same stored sealed bytes under the same key, so the aggregator
counts the report once and no budget is spent again.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from worktally.client.errors import UploadError
from worktally.client.report import weekly
from worktally.client.report.identity import (
    HTTP_TIMEOUT_S,
    check_url,
    error_detail,
    load_enrollment,
)
from worktally.client.report.ledger import UploadRecord
from worktally.client.wire.envelope import ReportPayload

MAX_ATTEMPTS = 5
BACKOFF_S = 0.5
# Worth another try: the aggregator is overloaded or restarting.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

Runner = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    status: str  # accepted, duplicate, rejected, failed
    http_status: int | None
    detail: str | None


def post_report(url: str, body: bytes, idempotency_key: str, client: httpx.Client | None = None,
                max_attempts: int = MAX_ATTEMPTS, backoff_s: float = BACKOFF_S) -> list[Attempt]:
    """POST until accepted, refused, or out of attempts (waits backoff_s, 2x, 4x... between)."""
    http = client or httpx.Client(timeout=HTTP_TIMEOUT_S)
    attempts: list[Attempt] = []
    try:
        for number in range(max_attempts):
            if number:
                time.sleep(backoff_s * 2 ** (number - 1))
            at = dt.datetime.now(dt.UTC)
            try:
                response = http.post(
                    f"{url}/v1/reports", content=body,
                    headers={"Content-Type": "application/octet-stream",
                             "Idempotency-Key": idempotency_key},
                )
            except httpx.HTTPError as exc:
                attempts.append(Attempt(at, "failed", None, f"{type(exc).__name__}: {exc}"))
                continue
            code = response.status_code
            if code == 201:
                attempts.append(Attempt(at, "accepted", code, None))
                break
            if code == 200:
                attempts.append(Attempt(at, "duplicate", code, None))
                break
            status = "failed" if code in RETRY_STATUSES else "rejected"
            attempts.append(Attempt(at, status, code, error_detail(response)))
            if status == "rejected":
                break
    finally:
        if client is None:
            http.close()
    return attempts


def _records(payload: ReportPayload, attempts: list[Attempt]) -> list[dict[str, Any]]:
    return [
        {"attempted_at": a.at.isoformat(), "cohort": payload.cohort, "period": payload.period,
         "epsilon": payload.epsilon, "delta": payload.delta, "status": a.status,
         "http_status": a.http_status, "values": list(payload.values), "detail": a.detail}
        for a in attempts
    ]


def records_from_json(items: list[dict[str, Any]]) -> list[UploadRecord]:
    return [
        UploadRecord(
            attempted_at=dt.datetime.fromisoformat(str(i["attempted_at"])),
            cohort=str(i["cohort"]), period=str(i["period"]), epsilon=float(i["epsilon"]),
            delta=float(i["delta"]), status=str(i["status"]),
            http_status=None if i.get("http_status") is None else int(i["http_status"]),
            values=tuple(int(v) for v in i["values"]),
            detail=None if i.get("detail") is None else str(i["detail"]),
        )
        for i in items
    ]


def send(run: Runner, week: str | None = None, client: httpx.Client | None = None,
         max_attempts: int = MAX_ATTEMPTS, backoff_s: float = BACKOFF_S) -> dict[str, Any]:
    """Prepare (or reuse) the week's report, seal it, upload it and log every attempt.

    `run` carries a request to the database owner: the agent, or this process under its lock.
    """
    prepared = run({"cmd": "report_prepare", "week": week, "seal": True})
    payload = weekly.payload_from_json(prepared)
    body = base64.b64decode(prepared.pop("envelope"))
    enrollment = load_enrollment()
    attempts = post_report(check_url(enrollment.url), body, str(prepared["idempotency_key"]),
                           client, max_attempts, backoff_s)
    run({"cmd": "report_record", "attempts": _records(payload, attempts)})
    last = attempts[-1]
    if last.status not in ("accepted", "duplicate"):
        code = f" (HTTP {last.http_status})" if last.http_status else ""
        raise UploadError(
            f"the {payload.period} report was not delivered after {len(attempts)} "
            f"attempt(s){code}: {last.detail}; run `worktally report send --week "
            f"{payload.period}` again later (it resends the same values, no new budget)"
        )
    return {**prepared, "status": last.status, "attempts": len(attempts),
            "sent_bytes": len(body)}
