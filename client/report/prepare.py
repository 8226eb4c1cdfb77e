"""A window's report, made once per (cohort, window) and read back ever after.

Secure mode (a helper is configured): the clipped vector is split into two Prio3 shares with
a validity proof, each share sealed to its own aggregator; neither aggregator can read the
values, and the shares are all that leaves. Local mode (the single-server fallback): the
clipped vector gets this machine's own OpenDP noise and is signed and sealed to the one
aggregator. Either way the report is stored with the budget check in one transaction, so
a window's ε is spent once and every resend is byte-identical.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.client.config import Config
from worktally.client.errors import WorktallyError
from worktally.client.report import budget, ledger
from worktally.client.report.enrollment import Enrollment
from worktally.client.report.ledger import StoredReport
from worktally.client.report.values import WindowValues, window_values
from worktally.client.wire import envelope, measurement
from worktally.client.wire.dap.client import build_report
from worktally.client.wire.dap.messages import HpkeConfigList
from worktally.client.wire.dp_sampling import entry_noise_vector
from worktally.client.wire.envelope import ReportPayload
from worktally.client.wire.privacy import DEFAULT_EPSILON_PER_RELEASE, DEFAULT_RELEASE_WINDOW
from worktally.client.wire.windows import Window, WindowKind, last_ended, parse_window

Connection = duckdb.DuckDBPyConnection
HpkeLists = tuple[HpkeConfigList, HpkeConfigList]  # the leader's, the helper's


@dataclass(frozen=True)
class Prepared:
    """A window's report and the bookkeeping shown beside it (never sent)."""

    report: StoredReport
    values: WindowValues | None  # None when read back from the ledger only
    year: budget.YearBudget
    reused: bool

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "mode": r.mode, "cohort": r.cohort, "window": r.window_label,
            "window_kind": r.window_kind, "schema_version": r.schema_version,
            "epsilon": r.epsilon, "client_id": r.client_id, "report_id": r.report_id,
            "fields": fields(r.true_values, r.sent_values),
            "bytes_that_leave": len(r.body), "reused": self.reused,
            "created_at": r.created_at.isoformat(),
            "accepted_at": r.accepted_at.isoformat() if r.accepted_at else None,
            "budget": self.year.to_json(),
            "mostly_unknown": self.values.mostly_unknown if self.values else None,
        }


def fields(true_values: tuple[int, ...] | list[int],
           sent: tuple[int, ...] | None) -> list[dict[str, Any]]:
    """Per metric: the clipped true value beside what leaves (local: noised; secure: none)."""
    return [{"metric": m.name, "kind": m.kind.value, "bound": m.bound, "unit": m.unit,
             "value": int(v), "sent": None if sent is None else int(sent[i])}
            for i, (m, v) in enumerate(zip(measurement.SECURE_METRICS, true_values,
                                           strict=True))]


def choose_window(kind: str, label: str | None, now: dt.datetime) -> Window:
    """The window named, or the last one of `kind` that has ended."""
    window_kind = WindowKind(kind)
    window = parse_window(window_kind, label) if label else last_ended(window_kind, now)
    if window.start > now:
        raise WorktallyError(f"{window.label} has not started yet; report a past window")
    return window


def _secure_body(enrollment: Enrollment, clipped: list[int], window: Window,
                 now: dt.datetime, hpke: HpkeLists | None) -> tuple[str, bytes]:
    task = enrollment.task()
    # Each aggregator's current key comes first in its list (keys rotate monthly); without a
    # fresh list, the ones enrollment saved.
    leader, helper = hpke or enrollment.hpke_configs()
    report_id, body = build_report(task, clipped, leader, helper, now=now, window=window.label)
    return report_id.hex(), body


def reseal(con: Connection, enrollment: Enrollment, window: Window, hpke: HpkeLists,
           now: dt.datetime) -> StoredReport:
    """Split and seal a stored secure report again, to the aggregators' current keys: the
    leader no longer holds the key it was sealed to (DAP's `outdated_config`). The values and
    the window are the same, so nothing new is spent; only a report never accepted may be
    resealed (an accepted one already counts)."""
    stored = ledger.stored(con, enrollment.cohort, window.kind.value, window.label)
    if stored is None or stored.mode != "secure":
        raise WorktallyError(f"no secure report of {window.label} to seal again")
    if stored.accepted_at is not None:
        raise WorktallyError(f"the {window.label} report was already accepted")
    report_id, body = _secure_body(enrollment, list(stored.true_values), window, now, hpke)
    ledger.replace_body(con, stored, report_id, body)
    kept = ledger.stored(con, enrollment.cohort, window.kind.value, window.label)
    assert kept is not None
    return kept


def _local_body(enrollment: Enrollment, clipped: list[int], window: Window,
                signing_key: Ed25519PrivateKey) -> tuple[str, tuple[int, ...], bytes]:
    noise = entry_noise_vector(enrollment.epsilon)
    sent = tuple(v + n for v, n in zip(clipped, noise, strict=True))
    nonce = secrets.token_hex(16)
    payload = ReportPayload(
        schema_version=measurement.SCHEMA_VERSION, cohort=enrollment.cohort,
        period=window.label, values=sent, epsilon=enrollment.epsilon, delta=enrollment.delta,
        mechanism=enrollment.mechanism, client_id=enrollment.client_id, nonce=nonce)
    return nonce, sent, envelope.seal(payload, signing_key, enrollment.aggregator_key_bytes)


def prepare(con: Connection, enrollment: Enrollment, signing_key: Ed25519PrivateKey,
            window: Window, cfg: Config, now: dt.datetime | None = None,
            hpke: HpkeLists | None = None) -> Prepared:
    """The window's stored report, or a new one if the yearly budget allows it (secure mode:
    sealed to the first key of each aggregator's list `hpke`)."""
    moment = now or dt.datetime.now(dt.UTC)
    existing = ledger.stored(con, enrollment.cohort, window.kind.value, window.label)
    if existing is not None:
        return Prepared(existing, None, budget.year_budget(con, window.budget_year, cfg), True)
    computed = window_values(con, window, cfg)
    clipped = measurement.measurement(computed.values)

    def make() -> StoredReport:
        sent: tuple[int, ...] | None = None
        if enrollment.secure:
            report_id, body = _secure_body(enrollment, clipped, window, moment, hpke)
        else:
            report_id, sent, body = _local_body(enrollment, clipped, window, signing_key)
        return StoredReport(
            cohort=enrollment.cohort, window_kind=window.kind.value, window_label=window.label,
            budget_year=window.budget_year, mode=enrollment.mode,
            schema_version=measurement.SCHEMA_VERSION, epsilon=enrollment.epsilon,
            client_id=enrollment.client_id, report_id=report_id, true_values=tuple(clipped),
            sent_values=sent, body=body, created_at=moment)

    kept, reused = ledger.insert(
        con, make, lambda: budget.check_release(con, window, enrollment.epsilon, cfg))
    return Prepared(kept, computed, budget.year_budget(con, window.budget_year, cfg), reused)


def preview(con: Connection, enrollment: Enrollment | None,
            signing_key: Ed25519PrivateKey | None, window: Window, cfg: Config) -> dict[str, Any]:
    """Every field, the true (clipped) value beside what leaves.

    Not enrolled: what the default policy (secure mode) would send; nothing is spent. A stored
    report: shown as it is. Secure mode: only a random share of each clipped value will
    leave, so nothing needs fixing and nothing is spent. Local mode: the noised vector is made
    and stored now (it fixes the noise, and spends the window's ε, as sending would).
    """
    if enrollment is not None:
        existing = ledger.stored(con, enrollment.cohort, window.kind.value, window.label)
        if existing is not None or not enrollment.secure:
            assert signing_key is not None
            return {"enrolled": True, **prepare(con, enrollment, signing_key, window,
                                                cfg).to_json()}
    computed = window_values(con, window, cfg)
    clipped = measurement.measurement(computed.values)
    year = budget.year_budget(con, window.budget_year, cfg)
    enrolled = enrollment is not None
    epsilon = enrollment.epsilon if enrollment else DEFAULT_EPSILON_PER_RELEASE
    out: dict[str, Any] = {
        "mode": "secure", "enrolled": enrolled,
        "cohort": enrollment.cohort if enrollment else None, "window": window.label,
        "window_kind": window.kind.value, "schema_version": measurement.SCHEMA_VERSION,
        "epsilon": epsilon, "fields": fields(clipped, None), "reused": False,
        "mostly_unknown": computed.mostly_unknown, "budget": year.to_json(),
    }
    if not enrolled:
        out["note"] = (f"not enrolled: this is what the default policy (one release per "
                       f"{DEFAULT_RELEASE_WINDOW.value}, ε={DEFAULT_EPSILON_PER_RELEASE:g}) "
                       "would send")
    return out
