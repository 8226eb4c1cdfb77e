"""The HTML pages' sign-in: the cookie is a random, expiring session id (never the bearer
token), HttpOnly, SameSite=Strict and Secure over https; a browser without a session gets a
login page (401, HTML), a tool JSON; a session is for one role; signing out ends it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aggregator_harness import Deployment, Server, make_deployment, start_server

pytestmark = pytest.mark.slow
HTML = {"Accept": "text/html,application/xhtml+xml"}
COOKIE = "worktally_session"


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[Deployment, Server]]:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = start_server(dep.data, tmp_path / "home")
    yield dep, server
    server.stop()


def sign_in(url: str, token: str, page: str = "/dashboard",
            headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/login", data={"token": token, "next": page}, timeout=10,
                      headers=headers or {}, follow_redirects=False)


def test_no_cookie_ever_holds_the_token(org) -> None:
    dep, server = org
    with_bearer = httpx.get(f"{server.url}/dashboard", timeout=10,
                            headers={"Authorization": f"Bearer {dep.admin_token}"})
    assert with_bearer.status_code == 200
    assert dep.admin_token not in with_bearer.headers.get("set-cookie", "")
    signed = sign_in(server.url, dep.admin_token)
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard"
    cookie = signed.headers["set-cookie"]
    session = signed.cookies[COOKIE]
    assert dep.admin_token not in cookie and len(session) >= 40
    for attribute in ("HttpOnly", "SameSite=strict", "Max-Age=28800", "Path=/"):
        assert attribute.lower() in cookie.lower(), attribute
    assert "secure" not in cookie.lower(), "plain http: no Secure flag"
    page = httpx.get(f"{server.url}/dashboard", cookies={COOKIE: session}, headers=HTML,
                     timeout=10)
    assert page.status_code == 200 and "<main>" in page.text and "/login" not in page.text
    assert page.headers["cache-control"] == "no-store"
    # The old cookie carried the token itself; it opens nothing now.
    old = httpx.get(f"{server.url}/dashboard", cookies={"worktally_token": dep.admin_token},
                    headers=HTML, timeout=10)
    assert old.status_code == 401


def test_over_https_the_cookie_is_secure(org) -> None:
    dep, server = org
    signed = sign_in(server.url, dep.admin_token, headers={"X-Forwarded-Proto": "https"})
    assert signed.status_code == 303
    assert "secure" in signed.headers["set-cookie"].lower()


def test_a_browser_without_a_session_gets_a_login_page(org) -> None:
    _, server = org
    page = httpx.get(f"{server.url}/dashboard", headers=HTML, timeout=10)
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/login">' in page.text
    assert 'name="token" type="password"' in page.text and "<script" not in page.text
    tool = httpx.get(f"{server.url}/dashboard", timeout=10)
    assert tool.status_code == 401 and "sign in at /login" in tool.json()["detail"]
    wrong = sign_in(server.url, "f" * 64)
    assert wrong.status_code == 401 and "unknown token" in wrong.text
    assert COOKIE not in wrong.cookies


def test_a_session_is_for_its_role_and_ends_on_sign_out(org) -> None:
    dep, server = org
    officer = sign_in(server.url, dep.officer_token, "/privacy").cookies[COOKIE]
    assert httpx.get(f"{server.url}/privacy", cookies={COOKIE: officer}, headers=HTML,
                     timeout=10).status_code == 200
    other = httpx.get(f"{server.url}/dashboard", cookies={COOKIE: officer}, headers=HTML,
                      timeout=10)
    assert other.status_code == 403 and "needs the admin token" in other.text
    admin_for_privacy = sign_in(server.url, dep.admin_token, "/privacy")
    assert admin_for_privacy.status_code == 403
    out = httpx.post(f"{server.url}/logout", cookies={COOKIE: officer}, timeout=10,
                     follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert httpx.get(f"{server.url}/privacy", cookies={COOKIE: officer}, headers=HTML,
                     timeout=10).status_code == 401


def test_a_sign_in_posted_from_another_site_is_refused(org) -> None:
    dep, server = org
    forged = sign_in(server.url, dep.admin_token, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and COOKIE not in forged.cookies


def test_a_session_expires(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = start_server(dep.data, tmp_path / "home")
    try:
        session = sign_in(server.url, dep.admin_token).cookies[COOKIE]
    finally:
        server.stop()
    later = start_server(dep.data, tmp_path / "home", ("--clock-offset", str(9 * 3600)))
    try:
        expired = httpx.get(f"{later.url}/dashboard", cookies={COOKIE: session},
                            headers=HTML, timeout=10)
        assert expired.status_code == 401
    finally:
        later.stop()


def test_a_malformed_sign_in_is_refused_not_a_server_error(org) -> None:
    """Fuzzing found both: a form with more fields than the page's raised a 500, and a long
    `next` on GET /login answered a 422 its OpenAPI entry did not describe."""
    dep, server = org
    stuffed = "&".join(f"f{i}=x" for i in range(6)) + f"&token={dep.admin_token}"
    answer = httpx.post(f"{server.url}/login", content=stuffed, timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert answer.status_code == 400 and "sign-in form" in answer.text
    assert COOKIE not in answer.headers.get("set-cookie", "")
    page = httpx.get(f"{server.url}/login", params={"next": "0" * 41}, timeout=10)
    assert page.status_code == 200 and 'value="/dashboard"' in page.text
