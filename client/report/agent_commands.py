"""The report's requests to the database owner: prepare, record uploads, read the log.

They run inside the agent when one runs (it owns the DuckDB) or in the CLI under the agent
lock; `worktally.client.agent.requests` lists `HANDLERS` in its dispatch table.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Protocol

import duckdb

from worktally.client.config import Config
from worktally.client.errors import WorktallyError
from worktally.client.report import ledger, weekly
from worktally.client.report.identity import load_enrollment, load_signing_key
from worktally.client.report.upload import records_from_json
from worktally.client.wire.periods import last_complete_week, parse_week
from worktally.client.wire.schema import METRIC_NAMES

Connection = duckdb.DuckDBPyConnection


class Context(Protocol):
    @property
    def cfg(self) -> Config: ...

    @property
    def run_db(self) -> Callable[[Callable[[Connection], Any]], Any]: ...


Handler = Callable[[Any, dict[str, Any]], dict[str, Any]]


def _prepare(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    raw = request.get("week")
    week = parse_week(raw) if isinstance(raw, str) and raw else last_complete_week()
    enrollment = load_enrollment()
    # Sealing needs the signing key, read here (a 0600 file), never sent in a request.
    key = load_signing_key() if request.get("seal") else None

    def prepare(con: Connection) -> dict[str, Any]:
        prepared = weekly.prepare(con, enrollment, week, ctx.cfg)
        result = weekly.to_json(prepared)
        if key is not None:
            sealed = weekly.envelope(con, prepared, key, enrollment.aggregator_key_bytes)
            result["envelope"] = base64.b64encode(sealed).decode()
        return result

    answer: dict[str, Any] = ctx.run_db(prepare)
    return answer


def _record(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    items = request.get("attempts")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise WorktallyError("report_record needs a list of 'attempts'")
    records = records_from_json(items)
    ctx.run_db(lambda con: weekly.record_attempts(con, records))
    return {"recorded": len(records)}


def report_log(con: Connection) -> dict[str, Any]:
    """Every stored vector (the budget spent) and every upload attempt, oldest first."""
    return {
        "metrics": list(METRIC_NAMES),
        "ledger": [
            {"cohort": e.cohort, "period": e.period, "epsilon": e.epsilon, "delta": e.delta,
             "mechanism": e.mechanism, "values": list(e.values),
             "created_at": e.created_at.isoformat(),
             "accepted_at": e.accepted_at.isoformat() if e.accepted_at else None}
            for e in ledger.entries(con)
        ],
        "uploads": [
            {"attempted_at": u.attempted_at.isoformat(), "cohort": u.cohort, "period": u.period,
             "epsilon": u.epsilon, "delta": u.delta, "status": u.status,
             "http_status": u.http_status, "values": list(u.values), "detail": u.detail}
            for u in ledger.uploads(con)
        ],
    }


def _log(ctx: Context, _request: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = ctx.run_db(report_log)
    return result


HANDLERS: dict[str, Handler] = {
    "report_prepare": _prepare,
    "report_record": _record,
    "report_log": _log,
}
