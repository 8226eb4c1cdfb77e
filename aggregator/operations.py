"""Every operator action, named once: who may do it, which server role serves it, and its HTTP
route. The CLI runs an action against a running server through this route (`--url`), or on
a stopped server's data dir through the same `Operator` method the route calls (`--data`);
a test checks that the app serves every route named here.
"""

from __future__ import annotations

from dataclasses import dataclass

LEADER, HELPER = ("leader",), ("helper",)
BOTH = ("leader", "helper")


@dataclass(frozen=True)
class Operation:
    """One action: `roles` may do it (the first is the one its CLI asks for), a server of
    one of `served_by` runs it, at `method path`. Parameters go into the path's `{names}`,
    the query (`query`), JSON body fields (`body`), or are the whole JSON body (`raw_body`).
    `list_key` wraps a route that answers a JSON list as `{list_key: [...]}`."""

    roles: tuple[str, ...]
    method: str
    path: str
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    raw_body: str | None = None
    list_key: str | None = None
    served_by: tuple[str, ...] = LEADER


ADMIN, OFFICER = ("admin",), ("officer",)

OPERATIONS: dict[str, Operation] = {
    "cohort_add": Operation(ADMIN, "POST", "/v1/admin/cohorts", body=(
        "name", "roster", "window", "epsilon", "k_min", "helper_url", "leader_url", "noise")),
    "cohort_list": Operation(ADMIN, "GET", "/v1/admin/cohorts"),
    "cohort_roster": Operation(ADMIN, "PUT", "/v1/admin/cohorts/{cohort}/roster",
                               body=("roster",)),
    "cohort_retire": Operation(ADMIN, "POST", "/v1/admin/cohorts/{cohort}/retire"),
    "tokens_issue": Operation(ADMIN, "POST", "/v1/admin/tokens",
                              body=("cohort", "count", "slot", "days"), list_key="tokens"),
    "tokens_list": Operation(ADMIN, "GET", "/v1/admin/tokens", query=("cohort",)),
    "tokens_expiry": Operation(ADMIN, "PATCH", "/v1/admin/tokens/{cohort}/{slot}",
                               body=("days",)),
    "tokens_revoke": Operation(ADMIN, "DELETE", "/v1/admin/tokens/{cohort}", query=("slot",)),
    "clients_count": Operation(ADMIN, "GET", "/v1/admin/clients", query=("cohort",)),
    "clients_revoke": Operation(ADMIN, "DELETE", "/v1/admin/clients/{cohort}/{slot}"),
    "windows_list": Operation(ADMIN, "GET", "/v1/admin/windows", query=("cohort",)),
    "release": Operation(ADMIN, "POST", "/v1/admin/releases", body=("cohort", "period")),
    "summary": Operation(ADMIN, "GET", "/v1/admin/summary"),
    "batches": Operation(ADMIN, "GET", "/v1/admin/batches", list_key="batches",
                         served_by=BOTH),
    "task_accept": Operation(ADMIN, "PUT", "/v1/admin/tasks", raw_body="task", query=(
        "max_epsilon", "max_epsilon_per_year", "min_k"), served_by=HELPER),
    "review": Operation(OFFICER, "GET", "/v1/privacy/review", served_by=BOTH),
    "hold": Operation(OFFICER, "POST", "/v1/privacy/holds", body=("cohort", "period", "reason")),
    "unhold": Operation(OFFICER, "DELETE", "/v1/privacy/holds/{cohort}/{period}"),
    "holds_list": Operation(OFFICER, "GET", "/v1/privacy/holds"),
    "audit": Operation(("officer", "admin"), "GET", "/v1/audit", query=(
        "cohort", "period", "action", "actor", "since", "until", "limit"), served_by=BOTH),
}
