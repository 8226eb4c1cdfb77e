"""The privacy officer's review: every privacy-relevant number exactly as the code uses it.

Schema bounds, the mechanism and ε/δ per person per period (and each metric's share and noise
scale), k, roster sizes (counts, never names), every release with its parameters, and holds.
"""

from __future__ import annotations

import html
from typing import Any

from worktally.aggregator.dap.tasks import WINDOWS_PER_YEAR, list_tasks
from worktally.aggregator.html_page import render_page, table
from worktally.aggregator.provisioning import list_cohorts
from worktally.aggregator.releases import list_holds, list_releases
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.schema import METRICS, SCHEMA_VERSION, accepted_range, noise_parameters


def build_review(store: AggregatorStore) -> dict[str, Any]:
    policy = store.policy()
    with store.transaction() as con:
        enrolled = dict(con.execute("SELECT cohort, count(*) FROM clients WHERE revoked_at "
                                    "IS NULL GROUP BY cohort").fetchall())
        audit = con.execute("SELECT ts, actor, action, cohort, period, detail FROM audit_log "
                            "ORDER BY ts").fetchall()
    tasks = {t.cohort: t for t in list_tasks(store)}
    cohorts = []
    for c in list_cohorts(store):
        if c.name in tasks:
            cohorts.append({
                "name": c.name, "roster_size": c.roster_size, "mode": "secure",
                "enrolled_clients": int(enrolled.get(c.name, 0)),
                "releasable": c.roster_size >= tasks[c.name].config.k_min,
                "epsilon_per_person_per_period": c.epsilon,
                "delta_per_person_per_period": 0.0, "mechanism": c.mechanism, "noise": {},
            })
            continue
        noise = noise_parameters(c.epsilon, c.delta, c.mechanism)
        cohorts.append({
            "name": c.name, "roster_size": c.roster_size, "mode": "local",
            "enrolled_clients": int(enrolled.get(c.name, 0)),
            "releasable": c.roster_size >= policy.k_min,
            "epsilon_per_person_per_period": c.epsilon,
            "delta_per_person_per_period": c.delta, "mechanism": c.mechanism,
            "noise": {m.name: {"epsilon": noise[m.name].epsilon, "scale": noise[m.name].scale,
                               "variance": noise[m.name].variance,
                               "accepted_range": list(accepted_range(m, noise[m.name]))}
                      for m in METRICS},
        })
    return {
        "schema_version": SCHEMA_VERSION,
        "fields": [{"name": m.name, "lower": m.lower, "upper": m.upper, "unit": m.unit,
                    "sensitivity": m.sensitivity, "description": m.description}
                   for m in METRICS],
        "k_min": policy.k_min,
        "min_contributors": policy.min_contributors,
        "stored_per_report": "local mode: nothing but running sums per cohort, period and "
                             "metric, and a receipt (client id, period, nonce) that blocks "
                             "replays; secure mode: both shares sealed until aggregated, then "
                             "only each aggregator's running aggregate share per batch, the "
                             "report id and the person's roster slot for that batch",
        "cohorts": cohorts,
        "tasks": [_task_json(t.config.summary()) for t in tasks.values()],
        "releases": [{
            "release_id": r.release_id, "cohort": r.cohort, "period": r.period,
            "released_at": r.released_at.isoformat(), "released_by": r.released_by, "n": r.n,
            "roster_size": r.roster_size, "k_min": r.k_min,
            "min_contributors": r.min_contributors, "epsilon": r.epsilon, "delta": r.delta,
            "mechanism": r.mechanism, "schema_version": r.schema_version,
            "mode": r.mode, "noise_copies": r.noise_copies,
        } for r in list_releases(store)],
        "holds": [{"cohort": h.cohort, "period": h.period, "reason": h.reason,
                   "held_at": h.held_at.isoformat()} for h in list_holds(store)],
        "audit_log": [{"ts": ts.isoformat(), "actor": actor, "action": action,
                       "cohort": cohort, "period": period, "detail": detail}
                      for ts, actor, action, cohort, period, detail in audit],
    }


def _task_json(summary: dict[str, Any]) -> dict[str, Any]:
    per_year = summary["epsilon_per_release"] * WINDOWS_PER_YEAR[summary["window"]]
    return {**summary, "epsilon_per_person_per_year_max": per_year}


def render_review(review: dict[str, Any]) -> str:
    fields = table(["field", "lower", "upper", "unit", "sensitivity", "meaning"],
                   [[f["name"], f["lower"], f["upper"], f["unit"], f["sensitivity"],
                     f["description"]] for f in review["fields"]])
    cohorts = table(["cohort", "roster size", "enrolled keys", "releasable (roster ≥ k)",
                     "ε per person per period", "δ", "mechanism"],
                    [[c["name"], c["roster_size"], c["enrolled_clients"],
                      "yes" if c["releasable"] else "no",
                      c["epsilon_per_person_per_period"], c["delta_per_person_per_period"],
                      c["mechanism"]] for c in review["cohorts"]])
    noise = "".join(
        f"<h3>noise for {html.escape(c['name'])}</h3>"
        + table(["field", "ε share", "scale", "variance", "accepted range"],
                [[name, round(n["epsilon"], 6), round(n["scale"], 3), round(n["variance"], 3),
                  f"{n['accepted_range'][0]} .. {n['accepted_range'][1]}"]
                 for name, n in c["noise"].items()])
        for c in review["cohorts"])
    tasks = table(["cohort", "task id", "window", "ε per release", "ε per year (max)",
                   "noise added by", "k", "roster", "schema"],
                  [[t["cohort"], t["task_id"][:16], t["window"], t["epsilon_per_release"],
                    t["epsilon_per_person_per_year_max"], t["noise"], t["k_min"], t["roster"],
                    t["schema_version"]] for t in review.get("tasks", [])])
    releases = table(["id", "cohort", "period", "released at", "by", "n", "roster", "k",
                      "min n", "ε", "δ", "mechanism", "schema"],
                     [[r["release_id"], r["cohort"], r["period"], r["released_at"],
                       r["released_by"], r["n"], r["roster_size"], r["k_min"],
                       r["min_contributors"], r["epsilon"], r["delta"], r["mechanism"],
                       r["schema_version"]] for r in review["releases"]])
    holds = table(["cohort", "period", "reason", "held at"],
                  [[h["cohort"], h["period"], h["reason"], h["held_at"]]
                   for h in review["holds"]])
    audit = table(["time", "actor", "action", "cohort", "period", "detail"],
                  [[a["ts"], a["actor"], a["action"], a["cohort"] or "", a["period"] or "",
                    a["detail"]] for a in review["audit_log"]])
    body = (f"<p>Schema version {review['schema_version']}. A cohort is released only when its "
            f"public roster has at least <b>k = {review['k_min']}</b> people and at least "
            f"<b>{review['min_contributors']}</b> of them reported. Stored per report: "
            f"{html.escape(review['stored_per_report'])}.</p>"
            f"<h2>Fields and clipping bounds</h2>{fields}<h2>Cohorts and budgets</h2>{cohorts}"
            f"{noise}<h2>Secure aggregation tasks</h2>{tasks}<h2>Releases</h2>{releases}"
            f"<h2>Held releases</h2>{holds}"
            f"<h2>Audit log</h2>{audit}")
    return render_page("worktally privacy review", "what the aggregator collects and releases",
                       body)
