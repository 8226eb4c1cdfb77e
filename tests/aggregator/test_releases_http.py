"""Release rules over real HTTP: k, the contributor minimum, holds, and role separation."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from aggregator_harness import (
    Server,
    bearer,
    enroll_client,
    make_deployment,
    mid_values,
    post_report,
)

from worktally.aggregator.settings import DataDir
from worktally.client.wire.schema import METRICS


def _fill(url: str, token: str, count: int, period: str = "2026-W48") -> None:
    for i in range(count):
        client = enroll_client(url, token)
        assert post_report(url, client.sealed(mid_values(i), period)).status_code == 201


def test_release_rules_and_the_audit_trail(tmp_path: Path,
                                           serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"big": 10, "small": 9}, min_contributors=3)
    server = serve(dep.data)
    url, admin, officer = server.url, bearer(dep.admin_token), bearer(dep.officer_token)

    def release(cohort: str, period: str = "2026-W48") -> httpx.Response:
        return httpx.post(f"{url}/v1/admin/releases", headers=admin, timeout=10,
                          json={"cohort": cohort, "period": period})

    _fill(url, dep.enroll_tokens["small"], 4)
    small = release("small")
    assert small.status_code == 409 and "k=10" in small.json()["detail"]

    _fill(url, dep.enroll_tokens["big"], 2)
    few = release("big")
    assert few.status_code == 409 and "minimum of 3" in few.json()["detail"]
    _fill(url, dep.enroll_tokens["big"], 2, "2026-W47")
    _fill(url, dep.enroll_tokens["big"], 1)

    held = httpx.post(f"{url}/v1/privacy/holds", headers=officer, timeout=10,
                      json={"cohort": "big", "period": "2026-W48", "reason": "tiny team week"})
    assert held.status_code == 201
    blocked = release("big")
    assert blocked.status_code == 409 and "hold" in blocked.json()["detail"]
    unheld = httpx.delete(f"{url}/v1/privacy/holds/big/2026-W48", headers=officer, timeout=10)
    assert unheld.status_code == 200

    done = release("big")
    assert done.status_code == 201, done.text
    assert (done.json()["n"], done.json()["roster_size"], done.json()["k_min"]) == (3, 10, 10)
    assert release("big").status_code == 409, "a period is released once"
    assert release("nosuch").status_code == 404

    summary = httpx.get(f"{url}/v1/admin/summary", headers=admin, timeout=10).json()
    assert [(r["cohort"], r["period"], r["n"]) for r in summary["cohorts"]] == [
        ("big", "2026-W48", 3)]
    means = summary["cohorts"][0]["metrics"]
    expected = [sum(mid_values(i)[j] for i in (0, 1, 0)) / 3 for j in range(len(METRICS))]
    for j, metric in enumerate(METRICS):
        fig = means[metric.name]["mean"]
        assert abs(fig["estimate"] - expected[j]) < 1e-3
        assert fig["low"] <= fig["estimate"] <= fig["high"]
    assert summary["org"][0]["n"] == 3

    review = httpx.get(f"{url}/v1/privacy/review", headers=officer, timeout=10).json()
    assert review["k_min"] == 10
    assert {c["name"]: c["roster_size"] for c in review["cohorts"]} == {"big": 10, "small": 9}
    assert [r["cohort"] for r in review["releases"]] == ["big"]
    actions = [a["action"] for a in review["audit_log"]]
    assert actions[-3:] == ["hold", "unhold", "release"]
    assert {f["name"] for f in review["fields"]} == {m.name for m in METRICS}


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
    enroll_token = bearer(dep.enroll_tokens["team"])
    assert httpx.get(server.url + "/v1/admin/summary", headers=enroll_token,
                     timeout=10).status_code == 401
    hold = httpx.post(server.url + "/v1/privacy/holds", headers=bearer(dep.admin_token),
                      json={"cohort": "team", "period": "2026-W48", "reason": "x"}, timeout=10)
    assert hold.status_code == 403


def test_dashboard_and_privacy_pages_take_a_token_once_then_a_cookie(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    _fill(server.url, dep.enroll_tokens["team"], 2)
    httpx.post(f"{server.url}/v1/admin/releases", headers=bearer(dep.admin_token), timeout=10,
               json={"cohort": "team", "period": "2026-W48"}).raise_for_status()
    assert httpx.get(f"{server.url}/dashboard", timeout=10).status_code == 401
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        first = browser.get("/dashboard", params={"token": dep.admin_token})
        assert first.status_code == 200 and "<svg" in first.text
        assert "errorbar" in first.text and "<script" not in first.text
        again = browser.get("/dashboard")
        assert again.status_code == 200, "the cookie carries the token"
        assert browser.get("/privacy").status_code == 403, "an admin cookie is not an officer's"
    page = httpx.get(f"{server.url}/privacy", params={"token": dep.officer_token}, timeout=10)
    assert page.status_code == 200 and "ai_tokens_k" in page.text


def test_a_foreign_host_header_is_refused_on_loopback(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    evil = httpx.get(f"{server.url}/v1/health", headers={"Host": "evil.example"}, timeout=10)
    assert evil.status_code == 400
    assert httpx.get(f"{server.url}/v1/health", timeout=10).status_code == 200


def test_concurrent_reports_are_all_counted_once(tmp_path: Path,
                                                 serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    clients = [enroll_client(server.url, dep.enroll_tokens["team"]) for _ in range(16)]
    envelopes = [c.sealed(mid_values(i)) for i, c in enumerate(clients)]
    # Each envelope is posted twice at once under one key: 16 accepted, 16 duplicates.
    jobs = [(e, f"key-{i:04d}-abcdef") for i, e in enumerate(envelopes)] * 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda job: post_report(server.url, *job).status_code, jobs))
    assert sorted(codes) == [200] * 16 + [201] * 16
    released = httpx.post(f"{server.url}/v1/admin/releases", headers=bearer(dep.admin_token),
                          json={"cohort": "team", "period": "2026-W48"}, timeout=10)
    assert released.json()["n"] == 16


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
