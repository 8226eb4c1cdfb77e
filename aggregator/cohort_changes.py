"""Changing a cohort after it is made: its roster, or retiring it.

The roster is the leader's alone, in both modes (a secure task does not hash it: see
`client/wire/dap/task.py`), so it changes without a new task, without the helper and without
clients noticing. Raising it frees new slots for tokens. Lowering it leaves the slots above
it issued but over the roster: their keys' reports are refused (`over_roster`) until the
roster grows back, and no release may count more people than the roster. A retired cohort
keeps its releases and may still release its ended windows, but takes no tokens, people or
reports: its open tokens and live keys are revoked.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from worktally.aggregator import clock
from worktally.aggregator.audit_log import audit
from worktally.aggregator.errors import Conflict, NotFound, PolicyViolation
from worktally.aggregator.provisioning import Cohort, find_cohort
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap.task import TaskConfig

MAX_ROSTER = 100_000


@dataclass(frozen=True)
class RosterChange:
    cohort: str
    before: int
    after: int
    live_keys_over: int  # live keys in slots above the new roster: refused from now on
    warning: str | None


def _cohort(con: duckdb.DuckDBPyConnection, name: str) -> Cohort:
    cohort = find_cohort(con, name)
    if cohort is None:
        raise NotFound(f"no cohort named {name!r}; see `worktally-aggregator cohort list`")
    if cohort.retired:
        raise Conflict(f"{name} was retired; it cannot change any more")
    return cohort


def set_roster(store: AggregatorStore, name: str, roster: int, actor: str) -> RosterChange:
    """Set a cohort's public roster size (both modes; no new task)."""
    if not 1 <= roster <= MAX_ROSTER:
        raise PolicyViolation(f"a roster is 1 to {MAX_ROSTER} people")
    with store.transaction() as con:
        cohort = _cohort(con, name)
        task = con.execute("SELECT config FROM dap_tasks WHERE cohort = ?", [name]).fetchone()
        cap = TaskConfig.decode(bytes(task[0])).roster_cap if task else None
        if cap is not None and roster > cap:
            raise Conflict(f"{name}'s task was made before rosters left the task and holds a "
                           f"roster of {cap}; it can shrink but not grow past {cap}. Make a "
                           "new cohort for a larger team")
        over_row = con.execute("SELECT count(*) FROM clients WHERE cohort = ? AND slot > ? AND "
                               "revoked_at IS NULL", [name, roster]).fetchone()
        over = int(over_row[0]) if over_row else 0
        con.execute("UPDATE cohorts SET roster_size = ? WHERE name = ?", [roster, name])
        detail = f"roster {cohort.roster_size} -> {roster}"
        if over:
            detail += f"; {over} live keys in slots over {roster} are refused from now on"
        audit(con, actor, "roster", name, None, detail)
    warning = None
    if roster < cohort.k_min:
        warning = (f"the roster of {roster} is under k = {cohort.k_min}: nothing of {name} "
                   "can be released until it is at least k")
    return RosterChange(name, cohort.roster_size, roster, over, warning)


@dataclass(frozen=True)
class Retirement:
    cohort: str
    tokens_revoked: int
    keys_revoked: int


def retire_cohort(store: AggregatorStore, name: str, actor: str) -> Retirement:
    """Retire a cohort: revoke its open tokens and live keys; its ended windows can still be
    released and its releases stay listed."""
    now = clock.now()
    with store.transaction() as con:
        _cohort(con, name)
        tokens = con.execute("UPDATE slot_tokens SET revoked_at = ? WHERE cohort = ? AND "
                             "used_at IS NULL AND NOT superseded AND revoked_at IS NULL "
                             "RETURNING slot", [now, name]).fetchall()
        keys = con.execute("UPDATE clients SET revoked_at = ?, revoke_reason = 'retired' "
                           "WHERE cohort = ? AND revoked_at IS NULL RETURNING client_id",
                           [now, name]).fetchall()
        con.execute("UPDATE cohorts SET retired_at = ? WHERE name = ?", [now, name])
        audit(con, actor, "cohort-retire", name, None,
              f"{len(tokens)} unused tokens and {len(keys)} live keys revoked")
    return Retirement(name, len(tokens), len(keys))
