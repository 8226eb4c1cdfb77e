"""Where a `worktally-aggregator` command runs: against a running server over HTTP
(`--url URL --token-file FILE`), or on a stopped server's data dir (`--data DIR`). Both take
an action's name from `operations.OPERATIONS` and its parameters and give back the same JSON,
so each command is written once.

Offline, the token file is optional for admin actions (whoever holds the data dir can act as
the admin, and the audit log says so) but an officer action needs the officer's token there
too, and the audit log names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx

from worktally.aggregator.auth import OFFLINE, Actor, authenticate, owner
from worktally.aggregator.dap.context import DapContext
from worktally.aggregator.dap.keys import stored_role
from worktally.aggregator.errors import (
    AggregatorError,
    AuthError,
    Conflict,
    NotFound,
    PeerUnavailable,
    PolicyViolation,
    WrongRole,
)
from worktally.aggregator.operations import OPERATIONS, Operation
from worktally.aggregator.operator import Operator
from worktally.aggregator.provisioning import open_store
from worktally.aggregator.settings import DataDir

HTTP_TIMEOUT_S = 120.0  # a release may run the last aggregation jobs with the helper
_STATUS_ERRORS: dict[int, type[AggregatorError]] = {
    401: AuthError, 403: WrongRole, 404: NotFound, 409: Conflict, 422: PolicyViolation}


class Backend(Protocol):
    def run(self, name: str, /, **params: Any) -> dict[str, Any]: ...


def read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AuthError(f"cannot read the token file {path.name}: {exc.strerror}") from exc
    if not text:
        raise AuthError(f"the token file {path.name} is empty")
    return text


class HttpBackend:
    """Runs actions on a running aggregator through its API, with one bearer token."""

    def __init__(self, url: str, token: str, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.http = client or httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False)
        self.token = token

    def run(self, name: str, /, **params: Any) -> dict[str, Any]:
        op = OPERATIONS[name]
        path = op.path.format(**{k: params[k] for k in _placeholders(op)})
        query = {k: _text(params[k]) for k in op.query if params.get(k) is not None}
        body: Any = None
        if op.raw_body is not None:
            body = params[op.raw_body]
        elif op.body:
            body = {k: params[k] for k in op.body if params.get(k) is not None}
        try:
            response = self.http.request(op.method, f"{self.url}{path}", params=query,
                                         json=body, headers={
                                             "Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"could not reach the aggregator at {self.url} "
                                  f"({type(exc).__name__}); is it running?") from exc
        if response.status_code >= 400:
            raise _error(response)
        answer = response.json()
        if op.list_key is not None and isinstance(answer, list):
            return {op.list_key: answer}
        if not isinstance(answer, dict):
            raise AggregatorError(f"{op.method} {path} answered {type(answer).__name__}")
        return answer

    def close(self) -> None:
        self.http.close()


class LocalBackend:
    """Runs actions directly on a data dir (the server must be stopped: DuckDB lets one
    process hold the file)."""

    def __init__(self, data: DataDir, token: str | None) -> None:
        self.data, self.token = data, token

    def run(self, name: str, /, **params: Any) -> dict[str, Any]:
        op = OPERATIONS[name]
        store = open_store(self.data)
        ctx: DapContext | None = None

        def dap() -> DapContext:
            nonlocal ctx
            if ctx is None:
                ctx = DapContext.open(store, self.data, driver_interval=0)
            return ctx

        try:
            role = stored_role(store)
            if role not in op.served_by:
                raise WrongRole(f"{self.data.root.name} is a {role}'s data dir; this action is "
                                f"the {' or '.join(op.served_by)}'s")
            actor = self._actor(store, op)
            result: dict[str, Any] = getattr(Operator(store, actor, dap), name)(**params)
            return result
        finally:
            if ctx is not None:
                ctx.close()
            store.close()

    def _actor(self, store: Any, op: Operation) -> Actor:
        if self.token is not None:
            return authenticate(store, self.token, op.roles, OFFLINE)
        if "admin" in op.roles:
            return owner()
        raise AuthError(f"this is the privacy {op.roles[0]}'s action: give their token with "
                        "--token-file FILE, also offline")


@contextmanager
def backend(url: str | None, token_file: Path | None, data: Path | None) -> Iterator[Backend]:
    """The backend a command's options ask for; exactly one of --url and --data."""
    if (url is None) == (data is None):
        raise PolicyViolation("give --data DIR (the server stopped) or --url URL with "
                              "--token-file FILE (the server running), not both")
    token = read_token(token_file)
    if url is not None:
        if token is None:
            raise AuthError("--url needs --token-file FILE holding the admin or officer token")
        http = HttpBackend(url, token)
        try:
            yield http
        finally:
            http.close()
        return
    assert data is not None
    yield LocalBackend(DataDir(data), token)


def _placeholders(op: Operation) -> list[str]:
    return [part[1:-1] for part in op.path.split("/") if part.startswith("{")]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _error(response: httpx.Response) -> AggregatorError:
    try:
        detail = str(response.json().get("detail"))
    except (ValueError, AttributeError):
        detail = response.text[:300] or f"HTTP {response.status_code}"
    error = _STATUS_ERRORS.get(response.status_code, AggregatorError)
    return error(f"{detail} (HTTP {response.status_code})")
