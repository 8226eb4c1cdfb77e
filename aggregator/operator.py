"""The operators' actions over one aggregator's store, as one method each (named as in
`operations.OPERATIONS`), returning JSON-ready dicts: the HTTP routes call these with the
token's actor, and the offline CLI calls them directly with its own. Who may call what is
checked by the callers (`operator_api.py`, `cli_backends.py`); this records who did it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from worktally.aggregator import clock
from worktally.aggregator.audit_log import AuditFilter, read_audit
from worktally.aggregator.auth import Actor
from worktally.aggregator.cohort_changes import retire_cohort, set_roster
from worktally.aggregator.dap.admin_routes import batch_status
from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.dap.peer import PeerRefused
from worktally.aggregator.dap.tasks import (
    WINDOWS_PER_YEAR,
    HelperPolicy,
    accept_task,
    create_task,
    task_file,
)
from worktally.aggregator.enrollment import (
    DEFAULT_TOKEN_DAYS,
    client_counts,
    issue_tokens,
    list_tokens,
    revoke_client,
    revoke_tokens,
    set_token_expiry,
)
from worktally.aggregator.errors import NotFound, PeerUnavailable, PolicyViolation
from worktally.aggregator.provisioning import Cohort, add_cohort, find_cohort, list_cohorts
from worktally.aggregator.releases import (
    Release,
    hold,
    list_holds,
    list_releases,
    release,
    unhold,
)
from worktally.aggregator.report_windows import REPORT_WINDOWS_BACK, window_states
from worktally.aggregator.review import build_review
from worktally.aggregator.settings import DEFAULT_EPSILON, DEFAULT_K, DEFAULT_WINDOW
from worktally.aggregator.store import AggregatorStore
from worktally.aggregator.summary import build_summary
from worktally.client.wire.dap import b64url

NOISE = {"helper": 1, "both": 2}


class Operator:
    """One actor's actions on one aggregator. `dap` gives the secure-mode context (opened
    lazily offline: releasing a secure cohort talks to the helper)."""

    def __init__(self, store: AggregatorStore, actor: Actor,
                 dap: Callable[[], DapContext]) -> None:
        self.store, self.actor, self._dap = store, actor, dap

    @property
    def who(self) -> str:
        return str(self.actor)

    # --- cohorts -------------------------------------------------------------------------

    def cohort_add(self, name: str, roster: int, window: str = DEFAULT_WINDOW,
                   epsilon: float = DEFAULT_EPSILON, k_min: int | None = None,
                   helper_url: str | None = None, leader_url: str | None = None,
                   noise: str = "helper") -> dict[str, Any]:
        """A local-mode cohort, or with `helper_url` a secure one and its task file (secret:
        the verify key and the leader's token for the helper)."""
        if helper_url is None:
            c = add_cohort(self.store, name, roster, window, epsilon, k_min, self.who)
            return {"cohort": c.name, **cohort_json(c), "epsilon_per_person_per_year_max":
                    c.epsilon * WINDOWS_PER_YEAR[c.window]}
        if not leader_url:
            raise PolicyViolation("a secure cohort needs --leader-url (this leader's public URL)")
        if noise not in NOISE:
            raise PolicyViolation(f"noise must be one of {', '.join(NOISE)}")
        ctx = self._dap()
        try:
            helper_hpke = ctx.peer.hpke_config(helper_url)
        except (PeerUnavailable, PeerRefused) as exc:
            # The URL is the caller's: say so (422), rather than as this server's fault.
            raise PolicyViolation(f"could not get the helper's HPKE config: {exc}; check "
                                  "--helper-url and that the helper is running") from exc
        k = self.store.policy().k_min if k_min is None else k_min
        task = create_task(self.store, ctx.data, cohort=name, roster=roster,
                           leader_url=leader_url, helper_url=helper_url,
                           helper_hpke=helper_hpke, window=window, epsilon=epsilon,
                           noise_copies=NOISE[noise], k_min=k, actor=self.who)
        with self.store.transaction() as con:
            made = find_cohort(con, name)
        assert made is not None
        return {"cohort": name, **cohort_json(made), "epsilon_per_person_per_year_max":
                made.epsilon * WINDOWS_PER_YEAR[made.window], "task_id": b64url(task.task_id),
                "noise": noise, "summary": task.config.summary(), "task_file": task_file(task)}

    def cohort_list(self) -> dict[str, Any]:
        counts = {c["cohort"]: c for c in client_counts(self.store)}
        return {"cohorts": [{**cohort_json(c), "live_keys": counts[c.name]["live_keys"],
                             "slots_issued": counts[c.name]["slots_issued"]}
                            for c in list_cohorts(self.store)]}

    def cohort_roster(self, cohort: str, roster: int) -> dict[str, Any]:
        change = set_roster(self.store, cohort, roster, self.who)
        return {"cohort": cohort, "roster_before": change.before, "roster": change.after,
                "live_keys_over_roster": change.live_keys_over, "warning": change.warning}

    def cohort_retire(self, cohort: str) -> dict[str, Any]:
        retired = retire_cohort(self.store, cohort, self.who)
        return {"cohort": cohort, "retired": True, "tokens_revoked": retired.tokens_revoked,
                "keys_revoked": retired.keys_revoked}

    # --- tokens and clients --------------------------------------------------------------

    def tokens_issue(self, cohort: str, count: int = 1, slot: int | None = None,
                     days: int = DEFAULT_TOKEN_DAYS) -> dict[str, Any]:
        issued = issue_tokens(self.store, cohort, count, slot, days, self.who)
        return {"tokens": [{"cohort": t.cohort, "slot": t.slot, "token": t.token,
                            "expires_at": t.expires_at.isoformat()} for t in issued]}

    def tokens_list(self, cohort: str | None = None) -> dict[str, Any]:
        return {"tokens": [t.to_json() for t in list_tokens(self.store, cohort)]}

    def tokens_expiry(self, cohort: str, slot: int, days: int) -> dict[str, Any]:
        return set_token_expiry(self.store, cohort, slot, days, self.who).to_json()

    def tokens_revoke(self, cohort: str, slot: int | None = None) -> dict[str, Any]:
        return {"cohort": cohort, "slot": slot,
                "revoked": revoke_tokens(self.store, cohort, slot, self.who)}

    def clients_count(self, cohort: str | None = None) -> dict[str, Any]:
        return {"cohorts": client_counts(self.store, cohort)}

    def clients_revoke(self, cohort: str, slot: int) -> dict[str, Any]:
        revoke_client(self.store, cohort, slot, self.who)
        return {"cohort": cohort, "slot": slot, "revoked": True}

    # --- windows and releases ------------------------------------------------------------

    def windows_list(self, cohort: str | None = None) -> dict[str, Any]:
        cohorts = list_cohorts(self.store)
        if cohort is not None:
            cohorts = [c for c in cohorts if c.name == cohort]
            if not cohorts:
                raise NotFound(f"no cohort named {cohort!r}")
        with self.store.transaction() as con:
            states = window_states(con, cohorts, clock.now())
        return {"report_windows_back": REPORT_WINDOWS_BACK,
                "windows": [s.__dict__ for s in states]}

    def release(self, cohort: str, period: str) -> dict[str, Any]:
        ctx = self._dap()
        if ctx.is_secure(cohort):
            return release_json(ctx.release(cohort, period, self.who))
        return release_json(release(self.store, cohort, period, self.who))

    def summary(self) -> dict[str, Any]:
        return build_summary(list_releases(self.store))

    def batches(self) -> dict[str, Any]:
        return {"batches": [b.model_dump() for b in batch_status(self.store)]}

    def task_accept(self, task: Any, max_epsilon: float = 4.0,
                    max_epsilon_per_year: float = 16.0, min_k: int = DEFAULT_K) -> dict[str, Any]:
        policy = HelperPolicy(max_epsilon, max_epsilon_per_year, min_k)
        accepted = accept_task(self.store, task, policy, self._dap().models, self.who)
        return {"task_id": b64url(accepted.task_id), "summary": accepted.config.summary()}

    # --- the privacy officer's -----------------------------------------------------------

    def review(self) -> dict[str, Any]:
        return build_review(self.store)

    def hold(self, cohort: str, period: str, reason: str) -> dict[str, Any]:
        h = hold(self.store, cohort, period, reason, self.who)
        return {"cohort": h.cohort, "period": h.period, "reason": h.reason,
                "held_at": h.held_at.isoformat()}

    def unhold(self, cohort: str, period: str) -> dict[str, Any]:
        unhold(self.store, cohort, period, self.who)
        return {"status": "unheld"}

    def holds_list(self) -> dict[str, Any]:
        return {"holds": [{"cohort": h.cohort, "period": h.period, "reason": h.reason,
                           "held_at": h.held_at.isoformat()} for h in list_holds(self.store)]}

    def audit(self, cohort: str | None = None, period: str | None = None,
              action: str | None = None, actor: str | None = None,
              since: str | dt.datetime | None = None, until: str | dt.datetime | None = None,
              limit: int = 1000) -> dict[str, Any]:
        wanted = AuditFilter(cohort, period, action, actor, _moment(since), _moment(until),
                             limit)
        return {"filter": wanted.to_json(), "entries": read_audit(self.store, wanted)}


def cohort_json(c: Cohort) -> dict[str, Any]:
    return {"name": c.name, "mode": c.mode, "roster_size": c.roster_size,
            "window": c.window, "epsilon": c.epsilon, "delta": c.delta,
            "mechanism": c.mechanism, "k_min": c.k_min, "retired": c.retired}


def release_json(r: Release) -> dict[str, Any]:
    return {"release_id": r.release_id, "cohort": r.cohort, "period": r.period,
            "released_at": r.released_at.isoformat(), "released_by": r.released_by, "n": r.n,
            "roster_size": r.roster_size, "k_min": r.k_min,
            "min_contributors": r.min_contributors, "epsilon": r.epsilon, "delta": r.delta,
            "mechanism": r.mechanism, "schema_version": r.schema_version, "mode": r.mode,
            "noise_copies": r.noise_copies}


def _moment(value: str | dt.datetime | None) -> dt.datetime | None:
    """An ISO date or time (UTC unless it says otherwise)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise PolicyViolation(f"{value!r} is not a date (2026-11-02) or time "
                              "(2026-11-02T09:30)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
