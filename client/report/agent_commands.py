"""The report's requests to the database owner: preview, prepare, record uploads, the log.

They run inside the agent when one runs (it owns the DuckDB) or in the CLI under the agent
lock; `worktally.client.agent.requests` lists `HANDLERS` in its dispatch table. The signing
key is read here from its 0600 file, never carried in a request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

import duckdb
import httpx

from worktally.client.config import Config
from worktally.client.errors import WorktallyError
from worktally.client.report import budget, ledger, prepare
from worktally.client.report.enrollment import (
    HTTP_TIMEOUT_S,
    Enrollment,
    fetch_hpke,
    is_enrolled,
    load_enrollment,
    load_signing_key,
)
from worktally.client.report.upload import records_from_json
from worktally.client.wire import measurement
from worktally.client.wire.dap.messages import HpkeConfigList
from worktally.client.wire.privacy import DEFAULT_RELEASE_WINDOW
from worktally.client.wire.windows import WindowKind, window_of

Connection = duckdb.DuckDBPyConnection


class Context(Protocol):
    @property
    def cfg(self) -> Config: ...

    @property
    def run_db(self) -> Callable[[Callable[[Connection], Any]], Any]: ...


Handler = Callable[[Any, dict[str, Any]], dict[str, Any]]


def _label(request: dict[str, Any]) -> str | None:
    raw = request.get("window")
    return raw if isinstance(raw, str) and raw else None


def current_configs(enrollment: Enrollment) -> prepare.HpkeLists:
    """Each aggregator's HPKE configs now, from the aggregator itself (keys rotate)."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        leader = HpkeConfigList.decode(fetch_hpke(enrollment.url, client))
        helper = HpkeConfigList.decode(fetch_hpke(enrollment.helper_url, client))
    return leader, helper


def _prepare(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    enrollment = load_enrollment()
    key = load_signing_key()
    now = dt.datetime.now(dt.UTC)
    window = prepare.choose_window(enrollment.window_kind, _label(request), now)
    hpke = None
    if enrollment.secure and ctx.run_db(lambda con: ledger.stored(
            con, enrollment.cohort, window.kind.value, window.label)) is None:
        # A new report: seal it to each aggregator's current key (fetched outside the
        # database's turn, which network waits must not hold).
        hpke = current_configs(enrollment)

    def run(con: Connection) -> dict[str, Any]:
        prepared = prepare.prepare(con, enrollment, key, window, ctx.cfg, now, hpke)
        out = prepared.to_json()
        if request.get("with_body"):
            out["body_hex"] = prepared.report.body.hex()
        return out

    result: dict[str, Any] = ctx.run_db(run)
    return result


def _reseal(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Seal a stored secure report again to the aggregators' current keys (outdated_config)."""
    enrollment = load_enrollment()
    now = dt.datetime.now(dt.UTC)
    window = prepare.choose_window(enrollment.window_kind, _label(request), now)
    hpke = current_configs(enrollment)

    def run(con: Connection) -> dict[str, Any]:
        stored = prepare.reseal(con, enrollment, window, hpke, now)
        return {"report_id": stored.report_id, "body_hex": stored.body.hex()}

    result: dict[str, Any] = ctx.run_db(run)
    return result


def _preview(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    if is_enrolled():
        enrollment = load_enrollment()
        key = load_signing_key()
        window = prepare.choose_window(enrollment.window_kind, _label(request), now)
    else:
        enrollment, key = None, None
        label = _label(request)
        # Before enrolling, the window being recorded now is the useful one to look at.
        window = (prepare.choose_window(DEFAULT_RELEASE_WINDOW.value, label, now) if label
                  else window_of(DEFAULT_RELEASE_WINDOW, now))
    result: dict[str, Any] = ctx.run_db(
        lambda con: prepare.preview(con, enrollment, key, window, ctx.cfg))
    return result


def _record(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    items = request.get("attempts")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise WorktallyError("report_record needs a list of 'attempts'")
    records = records_from_json(items)

    def run(con: Connection) -> None:
        for record in records:
            ledger.record_upload(con, record)

    ctx.run_db(run)
    return {"recorded": len(records)}


def report_log(con: Connection) -> dict[str, Any]:
    """Every stored report (the budget spent) and every upload attempt, oldest first."""
    return {
        "metrics": list(measurement.METRIC_NAMES),
        "reports": [
            {"cohort": r.cohort, "window": r.window_label, "window_kind": r.window_kind,
             "mode": r.mode, "epsilon": r.epsilon, "budget_year": r.budget_year,
             "fields": prepare.fields(r.true_values, r.sent_values),
             "bytes_that_left": len(r.body), "created_at": r.created_at.isoformat(),
             "accepted_at": r.accepted_at.isoformat() if r.accepted_at else None}
            for r in ledger.reports(con)
        ],
        "uploads": [
            {"attempted_at": u.attempted_at.isoformat(), "cohort": u.cohort,
             "window": u.period, "epsilon": u.epsilon, "status": u.status,
             "http_status": u.http_status, "values_in_clear": list(u.values),
             "detail": u.detail}
            for u in ledger.uploads(con)
        ],
    }


def _log(ctx: Context, _request: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = ctx.run_db(report_log)
    return result


def report_status(con: Connection, cfg: Config, now: dt.datetime) -> dict[str, Any]:
    """For `worktally status`: enrollment, the last report, this year's privacy budget."""
    enrollment = load_enrollment() if is_enrolled() else None
    kind = WindowKind(enrollment.window_kind) if enrollment else DEFAULT_RELEASE_WINDOW
    year = window_of(kind, now).budget_year
    last = ledger.last_accepted(con)
    return {
        "enrolled": enrollment is not None,
        "enrollment": None if enrollment is None else {
            "cohort": enrollment.cohort, "mode": enrollment.mode, "url": enrollment.url,
            "helper_url": enrollment.helper_url or None, "slot": enrollment.slot,
            "window_kind": enrollment.window_kind, "epsilon_per_release": enrollment.epsilon},
        "last_report": None if last is None else {
            "cohort": last.cohort, "window": last.window_label, "mode": last.mode,
            "accepted_at": last.accepted_at.isoformat() if last.accepted_at else None},
        "budget": budget.year_budget(con, year, cfg).to_json(),
    }


def _status(ctx: Context, _request: dict[str, Any]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    result: dict[str, Any] = ctx.run_db(lambda con: report_status(con, ctx.cfg, now))
    return result


HANDLERS: dict[str, Handler] = {
    "report_prepare": _prepare,
    "report_reseal": _reseal,
    "report_preview": _preview,
    "report_record": _record,
    "report_log": _log,
    "report_status": _status,
}
