"""Request body limits on every route, as an ASGI middleware in front of the app.

A body is refused with 413 by its Content-Length before any of it is read, and by its streamed
size (chunked, or longer than declared) as soon as it passes the limit, so neither an
anonymous 60 MB POST nor a slow stream makes the server buffer more than the route's limit.
It runs before authentication, routing and parsing, for both roles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Every JSON body the API takes (enrollment, tokens, releases, holds, cohorts) is far smaller.
DEFAULT_LIMIT = 16 * 1024


@dataclass(frozen=True)
class RouteLimit:
    """A larger (or smaller) limit for the routes whose path matches `pattern`."""

    pattern: str
    limit: int

    def matches(self, path: str) -> bool:
        return re.fullmatch(self.pattern, path) is not None


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its limit; FastAPI answers it as it
    answers any HTTPException, with 413 and a JSON `detail`."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over this route's limit of {limit} "
                              "bytes; nothing was read past it")


class BodyLimit:
    """Refuse bodies over the route's limit (`DEFAULT_LIMIT` unless a RouteLimit says)."""

    def __init__(self, app: ASGIApp, routes: Sequence[RouteLimit] = (),
                 default: int = DEFAULT_LIMIT) -> None:
        self.app, self.routes, self.default = app, tuple(routes), default

    def limit_for(self, path: str) -> int:
        for route in self.routes:
            if route.matches(path):
                return route.limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": BodyTooLarge(limit).detail}).encode()
    # The unread body stays in the socket, so the connection cannot be reused.
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
