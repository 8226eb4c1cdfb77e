"""Deliver a window's stored report, with backoff, logging every attempt.

Secure mode: the DAP upload (`POST {leader}/tasks/{task-id}/reports`) carrying both sealed
shares, signed with this install's key so the leader can hold it to one report per person.
Local mode: the sealed envelope to `/v1/reports` under a stable Idempotency-Key. A retry,
in this run or a later `report send`, sends the same stored bytes, so the aggregator counts
the report once and no budget is spent again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from worktally.client.errors import UploadError
from worktally.client.report.enrollment import (
    HTTP_TIMEOUT_S,
    Enrollment,
    check_url,
    error_detail,
    load_enrollment,
    load_signing_key,
)
from worktally.client.report.ledger import UploadRecord
from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.client import upload_headers
from worktally.client.wire.dap.codec import b64url
from worktally.client.wire.dap.messages import UploadErrors

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


def _request(enrollment: Enrollment, body: bytes, report_id: str) -> tuple[str, dict[str, str]]:
    if enrollment.secure:
        task_id = enrollment.task().task_id
        headers = upload_headers(enrollment.client_id, load_signing_key(), task_id, body)
        return f"{check_url(enrollment.url)}/tasks/{b64url(task_id)}/reports", headers
    return (f"{check_url(enrollment.url)}/v1/reports",
            {"Content-Type": "application/octet-stream", "Idempotency-Key": report_id})


def _detail(response: httpx.Response) -> str:
    """The leader's reason: a DAP UploadErrors body, a problem document, or the text."""
    if response.headers.get("content-type", "").startswith("application/ppm-dap"):
        try:
            errors = UploadErrors.decode(response.content)
        except DapError:
            return response.text[:200]
        return "; ".join(s.error.name.lower() for s in errors.statuses)
    return error_detail(response)


def post(enrollment: Enrollment, body: bytes, report_id: str,
         client: httpx.Client | None = None, max_attempts: int = MAX_ATTEMPTS,
         backoff_s: float = BACKOFF_S) -> list[Attempt]:
    """POST until accepted, refused, or out of attempts (waits backoff_s, 2x, 4x... between)."""
    url, headers = _request(enrollment, body, report_id)
    http = client or httpx.Client(timeout=HTTP_TIMEOUT_S)
    attempts: list[Attempt] = []
    try:
        for number in range(max_attempts):
            if number:
                time.sleep(backoff_s * 2 ** (number - 1))
            at = dt.datetime.now(dt.UTC)
            try:
                response = http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                attempts.append(Attempt(at, "failed", None, f"{type(exc).__name__}: {exc}"))
                continue
            code = response.status_code
            if code in (200, 201):
                # The local aggregator says 200 for a retry it had; DAP says 200 for both.
                duplicate = code == 200 and not enrollment.secure
                attempts.append(Attempt(at, "duplicate" if duplicate else "accepted", code,
                                        None))
                break
            status = "failed" if code in RETRY_STATUSES else "rejected"
            attempts.append(Attempt(at, status, code, _detail(response)))
            if status == "rejected":
                break
    finally:
        if client is None:
            http.close()
    return attempts


def _records(prepared: dict[str, Any], attempts: list[Attempt]) -> list[dict[str, Any]]:
    sent = [f["sent"] for f in prepared["fields"] if f["sent"] is not None]
    return [
        {"attempted_at": a.at.isoformat(), "cohort": prepared["cohort"],
         "period": prepared["window"], "epsilon": prepared["epsilon"], "delta": 0.0,
         "status": a.status, "http_status": a.http_status, "values": sent, "detail": a.detail}
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


def send(run: Runner, window: str | None = None, client: httpx.Client | None = None,
         max_attempts: int = MAX_ATTEMPTS, backoff_s: float = BACKOFF_S) -> dict[str, Any]:
    """Prepare (or reuse) the window's report, upload it and log every attempt.

    `run` carries a request to the database owner: the agent, or this process under its lock.
    """
    prepared = run({"cmd": "report_prepare", "window": window, "with_body": True})
    body = bytes.fromhex(prepared.pop("body_hex"))
    enrollment = load_enrollment()
    attempts = post(enrollment, body, str(prepared["report_id"]), client, max_attempts,
                    backoff_s)
    run({"cmd": "report_record", "attempts": _records(prepared, attempts)})
    last = attempts[-1]
    if last.status not in ("accepted", "duplicate"):
        code = f" (HTTP {last.http_status})" if last.http_status else ""
        raise UploadError(
            f"the {prepared['window']} report was not delivered after {len(attempts)} "
            f"attempt(s){code}: {last.detail}; {advice(last)}")
    return {**prepared, "status": last.status, "attempts": len(attempts),
            "sent_bytes": len(body)}


def advice(last: Attempt) -> str:
    """What the developer can usefully do next: only advice that can work."""
    if last.status == "failed":
        return ("run `worktally report send` again later; it resends the same bytes and "
                "spends no new budget")
    detail = (last.detail or "").lower()
    if "batch_collected" in detail or "collected" in detail or "released" in detail:
        return ("that window has already been released, so this report can no longer "
                "count; nothing more to do")
    if "replayed" in detail:
        return "the aggregator already has this report; nothing more to do"
    return ("the aggregator refused it; resending the same report will not help. Check "
            "`worktally status`, or ask your admin")
