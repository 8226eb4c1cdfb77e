"""The privacy officer's review: every privacy-relevant number exactly as the code uses it.

The report schema with each metric's bound, gate and share of ε; per cohort (both modes) the
window, ε per release and per person per year at most, δ, the mechanism, k, the roster size
and enrolled keys (counts, never names), the ε its releases spent per person this budget year
and what is left of the yearly cap, and each metric's noise scale (and in local mode the
range of noised values accepted); every release with its parameters and figures, holds and
the audit log.
"""

from __future__ import annotations

import html
import math
from datetime import datetime
from typing import Any

from worktally.aggregator import clock
from worktally.aggregator.dap.tasks import WINDOWS_PER_YEAR, list_tasks
from worktally.aggregator.html_page import render_page, table
from worktally.aggregator.provisioning import Cohort, list_cohorts
from worktally.aggregator.releases import Release, list_holds, list_releases
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.display import CLAMP_LEGEND, GREY_LEGEND, Figure
from worktally.client.wire.measurement import (
    SCHEMA_VERSION,
    SECURE_METRICS,
    coordinates,
    local_accepted_range,
)
from worktally.client.wire.privacy import YEARLY_EPSILON_CAP
from worktally.client.wire.windows import last_ended, parse_label

STORED_PER_REPORT = (
    "local mode: nothing but running sums per cohort, window and metric, and a receipt "
    "(client id, window, nonce) that blocks replays and second reports; secure mode: both "
    "shares sealed until aggregated, then only each aggregator's running aggregate share per "
    "batch, the report id and the person's roster slot for that batch")


def build_review(store: AggregatorStore) -> dict[str, Any]:
    policy = store.policy()
    with store.transaction() as con:
        enrolled = dict(con.execute("SELECT cohort, count(*) FROM clients WHERE revoked_at "
                                    "IS NULL GROUP BY cohort").fetchall())
        audit = con.execute("SELECT ts, actor, action, cohort, period, detail FROM audit_log "
                            "ORDER BY ts").fetchall()
    tasks = list_tasks(store)
    releases = list_releases(store)
    now = clock.now()
    return {
        "schema_version": SCHEMA_VERSION,
        "fields": [{"name": m.name, "kind": m.kind.value, "lower": 0, "upper": m.bound,
                    "gate": m.gate, "epsilon_weight": m.weight, "unit": m.unit,
                    "sensitivity": m.sensitivity, "description": m.description}
                   for m in SECURE_METRICS],
        "k_min": policy.k_min,
        "min_contributors": policy.min_contributors,
        "stored_per_report": STORED_PER_REPORT,
        "yearly_epsilon_cap": YEARLY_EPSILON_CAP,
        "cohorts": [{**_cohort_json(c, int(enrolled.get(c.name, 0))),
                     **budget_this_year(c, releases, now)} for c in list_cohorts(store)],
        "tasks": [_task_json(t.config.summary()) for t in tasks],
        "releases": [{
            "release_id": r.release_id, "cohort": r.cohort, "period": r.period,
            "released_at": r.released_at.isoformat(), "released_by": r.released_by, "n": r.n,
            "roster_size": r.roster_size, "k_min": r.k_min,
            "min_contributors": r.min_contributors, "epsilon": r.epsilon, "delta": r.delta,
            "mechanism": r.mechanism, "schema_version": r.schema_version,
            "mode": r.mode, "noise_copies": r.noise_copies,
            "figures": {e.metric: e.figure().to_json() for e in r.estimates},
        } for r in releases],
        "holds": [{"cohort": h.cohort, "period": h.period, "reason": h.reason,
                   "held_at": h.held_at.isoformat()} for h in list_holds(store)],
        "audit_log": [{"ts": ts.isoformat(), "actor": actor, "action": action,
                       "cohort": cohort, "period": period, "detail": detail}
                      for ts, actor, action, cohort, period, detail in audit],
    }


def _cohort_json(c: Cohort, enrolled: int) -> dict[str, Any]:
    """One cohort's policy; in local mode each person's report carries the noise, so the
    accepted range of each noised value is part of the policy too."""
    ranges = local_accepted_range(c.epsilon) if c.mode == "local" else None
    noise: dict[str, dict[str, Any]] = {}
    for i, coord in enumerate(coordinates(c.epsilon)):
        noise[coord.metric] = {"epsilon": coord.epsilon, "scale": coord.scale}
        if ranges is not None:
            noise[coord.metric]["accepted_range"] = list(ranges[i])
    return {
        "name": c.name, "mode": c.mode, "roster_size": c.roster_size,
        "enrolled_clients": enrolled, "k_min": c.k_min, "releasable": c.roster_size >= c.k_min,
        "window": c.window, "epsilon_per_person_per_period": c.epsilon,
        "epsilon_per_person_per_year_max": c.epsilon * WINDOWS_PER_YEAR[c.window],
        "delta_per_person_per_period": c.delta, "mechanism": c.mechanism, "noise": noise,
    }


def budget_this_year(c: Cohort, releases: list[Release], now: datetime) -> dict[str, Any]:
    """What the cohort's releases spent per person in this budget year, and what is left of
    the yearly cap that clients enforce. "This year" is the budget year of the window clients
    report for now, the last ended one (the ISO year for weeks): the year the next release
    spends from, so in early January it is still the year just ended. A person who reported
    for every release spent this much; one who sat a release out spent less."""
    year = last_ended(c.window, now).budget_year
    spent = math.fsum(r.epsilon for r in releases
                      if r.cohort == c.name and parse_label(r.period).budget_year == year)
    return {"budget_year": year, "epsilon_spent_this_year": spent,
            "epsilon_left_this_year": max(YEARLY_EPSILON_CAP - spent, 0.0)}


def _task_json(summary: dict[str, Any]) -> dict[str, Any]:
    per_year = summary["epsilon_per_release"] * WINDOWS_PER_YEAR[summary["window"]]
    return {**summary, "epsilon_per_person_per_year_max": per_year}


def render_review(review: dict[str, Any]) -> str:
    fields = table(["field", "kind", "lower", "upper", "counted for", "ε weight", "unit",
                    "sensitivity", "meaning"],
                   [[f["name"], f["kind"], f["lower"], f["upper"], f["gate"] or "everyone",
                     f["epsilon_weight"], f["unit"], f["sensitivity"], f["description"]]
                    for f in review["fields"]])
    cap = review["yearly_epsilon_cap"]
    cohorts = table(["cohort", "mode", "roster size", "enrolled keys", "k",
                     "releasable (roster ≥ k)", "window", "ε per person per window",
                     "ε per person per year (max)", "δ", "mechanism", "budget year",
                     "ε spent per person (released)", f"ε left of the cap of {cap:g}"],
                    [[c["name"], c["mode"], c["roster_size"], c["enrolled_clients"], c["k_min"],
                      "yes" if c["releasable"] else "no", c["window"],
                      c["epsilon_per_person_per_period"], c["epsilon_per_person_per_year_max"],
                      c["delta_per_person_per_period"], c["mechanism"], c["budget_year"],
                      round(c["epsilon_spent_this_year"], 4),
                      round(c["epsilon_left_this_year"], 4)]
                     for c in review["cohorts"]])
    noise = "".join(
        f"<h3>noise for {html.escape(c['name'])} ({html.escape(c['mode'])} mode)</h3>"
        + table(["field", "ε share", "scale", "accepted noised values"],
                [[name, round(n["epsilon"], 6), round(n["scale"], 3),
                  f"{n['accepted_range'][0]} .. {n['accepted_range'][1]}"
                  if "accepted_range" in n else "(secure: proved within the bounds)"]
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
    figure_rows: list[list[object]] = []
    figure_classes: list[str] = []
    for r in review["releases"]:
        for metric, data in r.get("figures", {}).items():
            figure = Figure.from_json(data)
            figure_rows.append([r["release_id"], r["cohort"], r["period"], metric,
                                figure.value_text, figure.interval_text, figure.note])
            figure_classes.append("" if figure.informative else "uninformative")
    figures = table(["release", "cohort", "period", "metric", "estimate", "95% interval",
                     "note"], figure_rows, figure_classes)
    holds = table(["cohort", "period", "reason", "held at"],
                  [[h["cohort"], h["period"], h["reason"], h["held_at"]]
                   for h in review["holds"]])
    audit = table(["time", "actor", "action", "cohort", "period", "detail"],
                  [[a["ts"], a["actor"], a["action"], a["cohort"] or "", a["period"] or "",
                    a["detail"]] for a in review["audit_log"]])
    body = (f"<p>Schema version {review['schema_version']}. A cohort's window is released only "
            "once it has ended and when at least its <b>k</b> people (the deployment's "
            f"default: k = {review['k_min']}), and no more than its public roster, reported; "
            f"a local-mode release also needs at least <b>{review['min_contributors']}</b> "
            "reports. "
            "Stored per report: "
            f"{html.escape(review['stored_per_report'])}.</p>"
            f"<h2>Fields and clipping bounds</h2>{fields}<h2>Cohorts and budgets</h2>{cohorts}"
            f"<p>Each release spends its ε once per person who reported for it; clients "
            f"refuse to pass the yearly cap of {cap:g} (a developer may set a lower one), so "
            "what is left is the most any further release this budget year can spend. The "
            "budget year is that of the last ended window, which the next release spends "
            "from.</p>"
            f"{noise}<h2>Secure aggregation tasks</h2>{tasks}<h2>Releases</h2>{releases}"
            f"<h2>Released figures</h2><p>{html.escape(CLAMP_LEGEND)}; "
            f"{html.escape(GREY_LEGEND)}.</p>{figures}"
            f"<h2>Held releases</h2>{holds}"
            f"<h2>Audit log</h2>{audit}")
    return render_page("worktally privacy review", "what the aggregator collects and releases",
                       body)
