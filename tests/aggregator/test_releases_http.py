"""Local-mode release rules over real HTTP: k, the roster, the contributor minimum, holds, a
window that has not ended (and `--clock-offset`), and role separation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from aggregator_harness import (
    PREVIOUS,
    WINDOW,
    Deployment,
    Server,
    bearer,
    column_sums,
    enroll_client,
    make_deployment,
    post_report,
    start_server,
    values,
)

from worktally.aggregator.provisioning import open_store
from worktally.aggregator.settings import DataDir
from worktally.client.wire.measurement import METRIC_NAMES, SCHEMA_VERSION, released_coordinates
from worktally.client.wire.noise_model import LOCAL, estimate_release
from worktally.client.wire.windows import window_of


def _fill(url: str, dep: Deployment, cohort: str, count: int, period: str = WINDOW,
          first: int = 0) -> list[list[int]]:
    sent = []
    for i in range(first, first + count):
        client = enroll_client(url, dep.token(cohort))
        assert post_report(url, client.sealed(values(i), period)).status_code == 201
        sent.append(values(i))
    return sent


def test_release_rules_and_the_audit_trail(tmp_path: Path,
                                           serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"big": 5, "small": 3}, min_contributors=3,
                          k_min=4)
    server = serve(dep.data)
    url, admin, officer = server.url, bearer(dep.admin_token), bearer(dep.officer_token)

    def release(cohort: str, period: str = WINDOW) -> httpx.Response:
        return httpx.post(f"{url}/v1/admin/releases", headers=admin, timeout=30,
                          json={"cohort": cohort, "period": period})

    _fill(url, dep, "small", 3)
    small = release("small")
    assert small.status_code == 409 and "k=4" in small.json()["detail"]

    sent = _fill(url, dep, "big", 3)
    few = release("big")
    assert few.status_code == 409 and "minimum of 4" in few.json()["detail"]
    assert release("big", "2026-W01").status_code == 422, "a quarterly cohort has no weeks"
    current = window_of("quarter", dt.datetime.now(dt.UTC)).label
    early = release("big", current)
    assert early.status_code == 409 and "has not ended" in early.json()["detail"]
    sent += _fill(url, dep, "big", 1, first=3)
    _fill(url, dep, "big", 1, PREVIOUS, first=9)

    held = httpx.post(f"{url}/v1/privacy/holds", headers=officer, timeout=10,
                      json={"cohort": "big", "period": WINDOW, "reason": "a look first"})
    assert held.status_code == 201
    blocked = release("big")
    assert blocked.status_code == 409 and "hold" in blocked.json()["detail"]
    unheld = httpx.delete(f"{url}/v1/privacy/holds/big/{WINDOW}", headers=officer, timeout=10)
    assert unheld.status_code == 200

    done = release("big")
    assert done.status_code == 201, done.text
    body = done.json()
    assert (body["n"], body["roster_size"], body["k_min"], body["min_contributors"],
            body["epsilon"], body["delta"], body["schema_version"], body["mode"]) == (
        4, 5, 4, 3, 4.0, 0.0, SCHEMA_VERSION, "local")
    assert release("big").status_code == 409, "a window is released once"
    assert release("nosuch").status_code == 404

    summary = httpx.get(f"{url}/v1/admin/summary", headers=admin, timeout=10).json()
    assert "org" not in summary and summary["schema_version"] == SCHEMA_VERSION
    assert [m["name"] for m in summary["metrics"]] == list(METRIC_NAMES)
    assert [(r["cohort"], r["period"], r["n"]) for r in summary["cohorts"]] == [
        ("big", WINDOW, 4)]
    figures = summary["cohorts"][0]["metrics"]
    expected = estimate_release(released_coordinates(column_sums(sent)), 4, 4.0, LOCAL)
    for name in METRIC_NAMES:
        fig, want = figures[name]["mean"], expected[name]
        assert fig["raw"] == pytest.approx(want.raw, abs=1e-3), name
        assert (fig["low"], fig["high"]) == pytest.approx((want.low, want.high), abs=1e-3)
        assert fig["informative"] == want.informative
        assert fig["people_needed"] == want.people_needed

    review = httpx.get(f"{url}/v1/privacy/review", headers=officer, timeout=10).json()
    assert review["k_min"] == 4 and review["schema_version"] == SCHEMA_VERSION
    cohorts = {c["name"]: c for c in review["cohorts"]}
    assert {n: c["roster_size"] for n, c in cohorts.items()} == {"big": 5, "small": 3}
    big = cohorts["big"]
    assert (big["mode"], big["window"], big["epsilon_per_person_per_period"],
            big["epsilon_per_person_per_year_max"], big["k_min"]) == (
        "local", "quarter", 4.0, 16.0, 4)
    assert list(big["noise"]) == list(METRIC_NAMES)
    assert all(len(n["accepted_range"]) == 2 for n in big["noise"].values())
    assert [r["cohort"] for r in review["releases"]] == ["big"]
    actions = [a["action"] for a in review["audit_log"]]
    assert actions[-3:] == ["hold", "unhold", "release"]
    assert actions.count("enroll") == 8
    assert [f["name"] for f in review["fields"]] == list(METRIC_NAMES)


def test_a_server_run_ahead_of_time_releases_the_current_window(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 4}, window="month")
    now = dt.datetime.now(dt.UTC)
    # A window that cannot end while the test runs (reports open 12 h before a start).
    current = window_of("month", now + dt.timedelta(minutes=10))
    server = start_server(dep.data, tmp_path / "home")
    try:
        sent = _fill(server.url, dep, "team", 2, current.label)
        early = httpx.post(f"{server.url}/v1/admin/releases", timeout=30,
                           headers=bearer(dep.admin_token),
                           json={"cohort": "team", "period": current.label})
        assert early.status_code == 409 and "has not ended" in early.json()["detail"]
    finally:
        server.stop()
    ahead = (current.end - now).total_seconds() + 60
    server = start_server(dep.data, tmp_path / "home", ("--clock-offset", f"{ahead:.0f}"))
    try:
        released = httpx.post(f"{server.url}/v1/admin/releases", timeout=30,
                              headers=bearer(dep.admin_token),
                              json={"cohort": "team", "period": current.label})
        assert released.status_code == 201, released.text
        assert released.json()["n"] == 2
        review = httpx.get(f"{server.url}/v1/privacy/review", timeout=10,
                           headers=bearer(dep.officer_token)).json()
        (entry,) = [a for a in review["audit_log"] if a["action"] == "release"]
        assert dt.datetime.fromisoformat(entry["ts"]) >= current.end, \
            "the audit log keeps the server's (offset) time"
    finally:
        server.stop()
    store = open_store(dep.data)
    try:
        with store.transaction() as con:
            totals = dict(con.execute("SELECT metric, total FROM sums WHERE period = ?",
                                      [current.label]).fetchall())
    finally:
        store.close()
    assert [totals[name] for name in METRIC_NAMES] == column_sums(sent)


def test_each_role_needs_its_own_token(tmp_path: Path,
                                       serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    admin_paths = ["/v1/admin/summary", "/v1/admin/releases"]
    officer_paths = ["/v1/privacy/review"]
    for path in admin_paths + officer_paths:
        assert httpx.get(server.url + path, timeout=10).status_code == 401
        assert httpx.get(server.url + path, headers=bearer("guess"), timeout=10).status_code == 401
    for path in admin_paths:
        assert httpx.get(server.url + path, headers=bearer(dep.officer_token),
                         timeout=10).status_code == 403
        assert httpx.get(server.url + path, headers=bearer(dep.admin_token),
                         timeout=10).status_code == 200
    for path in officer_paths:
        assert httpx.get(server.url + path, headers=bearer(dep.admin_token),
                         timeout=10).status_code == 403
        assert httpx.get(server.url + path, headers=bearer(dep.officer_token),
                         timeout=10).status_code == 200
    enroll_token = bearer(dep.token("team"))
    assert httpx.get(server.url + "/v1/admin/summary", headers=enroll_token,
                     timeout=10).status_code == 401
    hold = httpx.post(server.url + "/v1/privacy/holds", headers=bearer(dep.admin_token),
                      json={"cohort": "team", "period": WINDOW, "reason": "x"}, timeout=10)
    assert hold.status_code == 403


def test_dashboard_and_privacy_pages_take_a_token_once_then_a_cookie(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    _fill(server.url, dep, "team", 2)
    httpx.post(f"{server.url}/v1/admin/releases", headers=bearer(dep.admin_token), timeout=30,
               json={"cohort": "team", "period": WINDOW}).raise_for_status()
    assert httpx.get(f"{server.url}/dashboard", timeout=10).status_code == 401
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        first = browser.get("/dashboard", params={"token": dep.admin_token})
        assert first.status_code == 200 and first.text.count("<svg") == len(METRIC_NAMES)
        assert 'class="band"' in first.text and "<script" not in first.text
        again = browser.get("/dashboard")
        assert again.status_code == 200, "the cookie carries the token"
        assert browser.get("/privacy").status_code == 403, "an admin cookie is not an officer's"
    page = httpx.get(f"{server.url}/privacy", params={"token": dep.officer_token}, timeout=10)
    assert page.status_code == 200 and "ai_tokens_k_per_week" in page.text
    assert "accepted noised values" in page.text


def test_a_foreign_host_header_is_refused_on_loopback(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    evil = httpx.get(f"{server.url}/v1/health", headers={"Host": "evil.example"}, timeout=10)
    assert evil.status_code == 400
    assert httpx.get(f"{server.url}/v1/health", timeout=10).status_code == 200


def test_concurrent_reports_are_all_counted_once(tmp_path: Path,
                                                 serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 16})
    server = serve(dep.data)
    clients = [enroll_client(server.url, dep.token("team")) for _ in range(16)]
    envelopes = [c.sealed(values(i)) for i, c in enumerate(clients)]
    # Each envelope is posted twice at once under one key: 16 accepted, 16 duplicates.
    jobs = [(e, f"key-{i:04d}-abcdef") for i, e in enumerate(envelopes)] * 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda job: post_report(server.url, *job).status_code, jobs))
    assert sorted(codes) == [200] * 16 + [201] * 16
    released = httpx.post(f"{server.url}/v1/admin/releases", headers=bearer(dep.admin_token),
                          json={"cohort": "team", "period": WINDOW}, timeout=30)
    assert released.json()["n"] == 16
    summary = httpx.get(f"{server.url}/v1/admin/summary", headers=bearer(dep.admin_token),
                        timeout=10).json()
    active = summary["cohorts"][0]["metrics"]["ai_active"]["mean"]["raw"]
    assert active == column_sums([values(i) for i in range(16)])[0]


def test_tokens_in_page_urls_stay_out_of_the_access_log(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    page = httpx.get(f"{server.url}/dashboard", params={"token": dep.admin_token}, timeout=10)
    assert page.status_code == 200
    server.stop()
    log = server.log.read_text()
    assert "GET /dashboard" in log
    assert dep.admin_token not in log
