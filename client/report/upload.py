"""Deliver a window's stored report, with backoff, logging every attempt.

Secure mode: the DAP upload (`POST {leader}/tasks/{task-id}/reports`) carrying both sealed
shares, signed with this install's key so the leader can hold it to one report per person.
Local mode: the sealed envelope to `/v1/reports` under a stable Idempotency-Key. A retry,
in this run or a later `report send`, sends the same stored bytes, so the aggregator counts
the report once and no budget is spent again.

A refusal comes with a reason code (the `reason` of a JSON error, the `Worktally-Reasons`
header of a DAP upload, else DAP's own report error), and `advice` turns each into the one
thing the developer can usefully do, which is never "resend" when resending cannot work.
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


REASONS_HEADER = "Worktally-Reasons"
# A leader that sends no reason codes: DAP's report errors, as well as they can be read.
_DAP_REASONS = {"batch_collected": "window_released", "report_replayed": "replayed",
                "report_dropped": "already_reported", "report_too_early": "window_not_started",
                "outdated_config": "outdated_config", "invalid_message": "invalid",
                "hpke_unknown_config_id": "outdated_config", "hpke_decrypt_error": "invalid",
                "vdaf_verify_error": "rejected"}


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    status: str  # accepted, duplicate, rejected, failed
    http_status: int | None
    detail: str | None
    reason: str | None = None  # the aggregator's code for a refusal (see `advice`)


def _request(enrollment: Enrollment, body: bytes, report_id: str) -> tuple[str, dict[str, str]]:
    if enrollment.secure:
        task_id = enrollment.task().task_id
        headers = upload_headers(enrollment.client_id, load_signing_key(), task_id, body)
        return f"{check_url(enrollment.url)}/tasks/{b64url(task_id)}/reports", headers
    return (f"{check_url(enrollment.url)}/v1/reports",
            {"Content-Type": "application/octet-stream", "Idempotency-Key": report_id})


def _detail(response: httpx.Response) -> tuple[str, str | None]:
    """The aggregator's refusal: its text, and its reason code if it gave one."""
    reasons = [r.strip() for r in response.headers.get(REASONS_HEADER, "").split(",")
               if r.strip()]
    if response.headers.get("content-type", "").startswith("application/ppm-dap"):
        try:
            errors = UploadErrors.decode(response.content)
        except DapError:
            return response.text[:200], reasons[0] if reasons else None
        tokens = [s.error.name.lower() for s in errors.statuses]
        text = "; ".join(f"{t} ({r})" if r else t
                         for t, r in zip(tokens, reasons + [""] * len(tokens), strict=False))
        return text, (reasons[0] if reasons else _DAP_REASONS.get(tokens[0]) if tokens
                      else None)
    try:
        body = response.json()
    except ValueError:
        body = None
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is None and isinstance(body, dict) and "unrecognizedTask" in str(body.get("type")):
        reason = "unknown_task"
    return error_detail(response), reason if isinstance(reason, str) else None


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
            text, reason = _detail(response)
            attempts.append(Attempt(at, status, code, text, reason))
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
         "status": a.status, "http_status": a.http_status, "values": sent,
         "detail": f"[{a.reason}] {a.detail}" if a.reason else a.detail}
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
    if enrollment.secure and last.reason == "outdated_config":
        # DAP: the leader no longer holds the key the report was sealed to; seal the same
        # values again to the current keys, and try once more.
        fresh = run({"cmd": "report_reseal", "window": prepared["window"]})
        body, prepared["report_id"] = bytes.fromhex(fresh["body_hex"]), fresh["report_id"]
        more = post(enrollment, body, str(prepared["report_id"]), client, max_attempts,
                    backoff_s)
        run({"cmd": "report_record", "attempts": _records(prepared, more)})
        attempts += more
        last = attempts[-1]
    if last.status not in ("accepted", "duplicate"):
        code = f" (HTTP {last.http_status})" if last.http_status else ""
        hint = advice(last, prepared["window"], enrollment.secure)
        raise UploadError(
            f"the {prepared['window']} report was not delivered after {len(attempts)} "
            f"attempt(s){code}: {last.detail}; {hint}")
    return {**prepared, "status": last.status, "attempts": len(attempts),
            "sent_bytes": len(body)}


def advice(last: Attempt, window: str = "this window", secure: bool = True) -> str:
    """What the developer can usefully do next: only advice that can work."""
    if last.status == "failed":
        return ("run `worktally report send` again later; it resends the same bytes and "
                "spends no new budget")
    # After enrolling again, secure mode resends this report signed by the new key; a local
    # report carries the old key's signature inside it, so only later windows can count.
    after_enrolling = ("then `worktally report send` resends this report with the new key"
                       if secure else f"your {window} report was signed by the old key and "
                       "cannot count; later windows will")
    text = {
        "window_closed": (f"{window} is too old: the aggregator takes reports only for the "
                          "current window and the few before it, so this report cannot count. "
                          "`worktally report send` (no --window) sends the last ended window"),
        "window_not_started": (f"{window} has not started by the aggregator's clock; check "
                               "this machine's clock (`date -u`), and send it once the window "
                               "has started"),
        "clock_ahead": ("this report is dated ahead of the aggregator's clock; fix this "
                        "machine's clock or wait a few minutes, then `worktally report send` "
                        "again (it resends the same report)"),
        "window_released": (f"{window} has already been released, so this report can no "
                            "longer count; nothing more to do"),
        "already_reported": (f"your roster slot already reported for {window} (from another "
                             "machine, or an earlier enrollment); one report per person per "
                             "window counts, so nothing more to do"),
        "replayed": "the aggregator already has this report; nothing more to do",
        "rejected": ("the aggregators rejected this report's proof; resending it cannot "
                     "help. Upgrade worktally, and tell your admin if it happens again"),
        "key_revoked": ("your admin revoked this install's enrollment; ask them for a new "
                        f"token and run `worktally enroll URL TOKEN`; {after_enrolling}"),
        "key_replaced": ("your roster slot was enrolled again with a newer token, so reports "
                         "go from that install; if that was not you, ask your admin to "
                         "reissue your slot and enroll again"),
        "cohort_retired": ("your team's cohort was retired and takes no more reports; ask "
                           "your admin which cohort to join, and enroll with its token"),
        "over_roster": ("your roster slot is above your team's current roster; ask your "
                        "admin to raise the roster (then `worktally report send` again) or "
                        "for a token within it"),
        "not_enrolled": ("this aggregator does not know this install; enroll again with a "
                         "token from your admin (`worktally enroll URL TOKEN`)"),
        "unknown_task": ("the aggregator no longer knows this cohort's task; ask your admin "
                         "and enroll again with a new token"),
        "policy_changed": ("the cohort's policy changed since you enrolled; enroll again to "
                           f"fetch it; {after_enrolling}"),
        "wrong_mode": ("the cohort changed mode since you enrolled; enroll again with a new "
                       f"token; {after_enrolling}"),
        "schema_mismatch": "the aggregator speaks another report schema; upgrade worktally",
        "outdated_config": ("the aggregator no longer holds the key this report was sealed "
                            "to and it could not be sealed again; tell your admin"),
        "invalid": ("the aggregator could not read this report; resending it will not help. "
                    "Upgrade worktally, and tell your admin if it happens again"),
    }.get(last.reason or "")
    if text is not None:
        return text
    return ("the aggregator refused it; resending the same report will not help. Check "
            "`worktally status`, or ask your admin")
