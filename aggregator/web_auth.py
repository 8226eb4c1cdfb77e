"""Signing in to the aggregator's HTML pages (the dashboard, the privacy review) from a browser.

A browser cannot send a bearer header from a typed URL, so the operator pastes their token
into a login form once (`POST /login`, never a URL: it would stay in history and logs). The
server answers with a session cookie holding a random id, not the token: only the id's
SHA-256 is stored, with the role and token it stands for, and it expires after
`SESSION_HOURS`. The cookie is HttpOnly and SameSite=Strict, and Secure when the page is
served over https (directly, or behind a TLS proxy that says so). A page asked for without a
valid session answers a 401 login page in a browser, and JSON to anything else; tools may
always send `Authorization: Bearer`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import secrets
import urllib.parse
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from worktally.aggregator import clock
from worktally.aggregator.audit_log import audit
from worktally.aggregator.auth import Actor, authenticate
from worktally.aggregator.errors import AuthError, WrongRole
from worktally.aggregator.html_page import render_page
from worktally.aggregator.store import AggregatorStore

SESSION_COOKIE = "worktally_session"
SESSION_HOURS = 8
BROWSER = "browser session"
# The pages one can sign in to, and whose token each needs.
PAGES = {"/dashboard": "admin", "/privacy": "officer"}
# Referrer-Policy same-origin, not no-referrer: under no-referrer a browser sends
# `Origin: null` with the sign-in form's POST, which `_same_origin` must refuse.
HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy":
           "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
bearer = HTTPBearer(auto_error=False, description="the admin or privacy-officer token")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
FORM_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["token"], "properties": {
            "token": {"type": "string", "maxLength": 200},
            "next": {"type": "string", "enum": sorted(PAGES)}}}}}}}


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def is_https(request: Request) -> bool:
    return (request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto", "").lower() == "https")


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def start_session(store: AggregatorStore, actor: Actor) -> str:
    """A new session for `actor`; returns its id (the cookie's value)."""
    session_id = secrets.token_urlsafe(32)
    now = clock.now()
    with store.transaction() as con:
        con.execute("DELETE FROM web_sessions WHERE expires_at <= ?", [now])
        con.execute("INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?)",
                    [_digest(session_id), actor.role, actor.token_id, now,
                     now + dt.timedelta(hours=SESSION_HOURS)])
        audit(con, str(actor), "login", None, None, f"a {SESSION_HOURS} h browser session")
    return session_id


def session_actor(store: AggregatorStore, session_id: str | None) -> Actor | None:
    if not session_id or len(session_id) > 100:
        return None
    with store.transaction() as con:
        row = con.execute("SELECT role, token_id FROM web_sessions WHERE session_sha256 = ? "
                          "AND expires_at > ?", [_digest(session_id), clock.now()]).fetchone()
    return Actor(str(row[0]), str(row[1]), BROWSER) if row else None


def end_session(store: AggregatorStore, session_id: str | None) -> None:
    if session_id:
        with store.transaction() as con:
            con.execute("DELETE FROM web_sessions WHERE session_sha256 = ?",
                        [_digest(session_id)])


def guard(request: Request, store: AggregatorStore,
          credentials: HTTPAuthorizationCredentials | None, role: str) -> Actor | Response:
    """The actor allowed to see a page of `role`, or the answer that says how to sign in."""
    if credentials is not None:
        return authenticate(store, credentials.credentials, role)
    actor = session_actor(store, request.cookies.get(SESSION_COOKIE))
    if actor is None:
        if wants_html(request):
            return login_page(request.url.path, 401, "Sign in to see this page.")
        raise AuthError(f"this page needs the {role} token: sign in at /login, or send it "
                        "as a bearer token")
    if actor.role != role:
        if wants_html(request):
            return login_page(request.url.path, 403, f"This page needs the {role} token; "
                              f"you are signed in with the {actor.role} token.")
        raise WrongRole(f"this page needs the {role} token, not the {actor.role} token")
    return actor


def html_page(page: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def login_page(next_path: str, status: int = 200, message: str = "") -> HTMLResponse:
    target = next_path if next_path in PAGES else "/dashboard"
    role = PAGES[target]
    who = "the admin" if role == "admin" else "the privacy officer"
    note = f'<p class="note">{html.escape(message)}</p>' if message else ""
    body = (f"{note}<p>{html.escape(target)} needs {who}'s token, the one "
            "<code>worktally-aggregator init</code> printed. It is sent once, in this form, "
            "and the browser then keeps only a session cookie (it expires after "
            f"{SESSION_HOURS} hours).</p>"
            '<form method="post" action="/login">'
            f'<input type="hidden" name="next" value="{html.escape(target)}">'
            '<p><label for="token">token</label> '
            '<input id="token" name="token" type="password" autocomplete="off" size="70" '
            'required></p><p><button type="submit">Sign in</button></p></form>'
            "<p>Tools can send <code>Authorization: Bearer TOKEN</code> instead.</p>")
    return html_page(render_page("worktally: sign in", f"to {target}", body), status)


def add_login_routes(app: FastAPI, store: AggregatorStore) -> None:
    html_answers: dict[int | str, dict[str, object]] = {
        code: {"description": "an HTML page", "content": {"text/html": {}}}
        for code in (200, 400, 401, 403)}

    @app.get("/login", response_class=HTMLResponse, responses=html_answers)
    def get_login(page: Annotated[str, Query(alias="next")] = "/dashboard") -> HTMLResponse:
        # Anything but a known page (however long) signs in to the dashboard: no 422 here.
        return login_page(page if page in PAGES else "/dashboard")

    @app.post("/login", response_class=Response, openapi_extra=FORM_BODY,
              responses={303: {"description": "signed in: on to the page"}, **html_answers})
    async def post_login(request: Request) -> Response:
        if not _same_origin(request):
            return login_page("/dashboard", 403, "Sign in from this server's own page.")
        try:
            form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"),
                                         max_num_fields=4)
        except ValueError:  # more fields than the form has: not our page's post
            return login_page("/dashboard", 400, "That was not this server's sign-in form.")
        token = (form.get("token") or [""])[0].strip()
        target = (form.get("next") or ["/dashboard"])[0]
        target = target if target in PAGES else "/dashboard"
        try:
            actor = authenticate(store, token, PAGES[target], BROWSER)
        except (AuthError, WrongRole) as exc:
            return login_page(target, 401 if isinstance(exc, AuthError) else 403, str(exc))
        response = RedirectResponse(target, status_code=303, headers=HEADERS)
        response.set_cookie(SESSION_COOKIE, start_session(store, actor), httponly=True,
                            samesite="strict", secure=is_https(request), path="/",
                            max_age=SESSION_HOURS * 3600)
        return response

    @app.post("/logout", response_class=Response,
              responses={303: {"description": "signed out: on to the sign-in page"}})
    def post_logout(request: Request) -> Response:
        end_session(store, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=is_https(request))
        return response


def _same_origin(request: Request) -> bool:
    """A sign-in posted from another site's page is refused (login CSRF)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host", "")
