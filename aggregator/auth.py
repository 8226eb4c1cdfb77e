"""Who is acting: the admin or privacy-officer token a request or command presents, checked
against the stored digests, and named in the audit log as the token that acted.

A token is named by the first characters of its SHA-256 (never the token): enough to tell the
admin's from the officer's, and a replaced token from its successor, in the audit log.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from worktally.aggregator.errors import AuthError, WrongRole
from worktally.aggregator.provisioning import digest
from worktally.aggregator.store import AggregatorStore

ROLES = ("admin", "officer")
TOKEN_ID_CHARS = 8
API = "API"
OFFLINE = "offline CLI"


@dataclass(frozen=True)
class Actor:
    """One operator acting: their role, which token (None: the data dir's owner, offline,
    without a token; allowed for admin actions only) and through what."""

    role: str
    token_id: str | None
    via: str

    def __str__(self) -> str:
        if self.token_id is None:
            return f"{self.role} (the data dir's owner, no token) via {self.via}"
        return f"{self.role} token {self.token_id} via {self.via}"


def authenticate(store: AggregatorStore, token: str | None, roles: str | tuple[str, ...],
                 via: str = API) -> Actor:
    """The actor a token stands for; AuthError for a missing or unknown token, WrongRole for
    a token of a role not in `roles`."""
    wanted = (roles,) if isinstance(roles, str) else roles
    names = " or ".join(wanted)
    if not token:
        raise AuthError(f"this needs the {names} bearer token")
    token_digest = digest(token.strip())
    with store.transaction() as con:
        row = con.execute("SELECT role FROM tokens WHERE token_sha256 = ? AND role IN "
                          "('admin', 'officer')", [token_digest]).fetchone()
    if row is None:
        raise AuthError("unknown token; use the one `worktally-aggregator init` printed")
    role = str(row[0])
    if not any(hmac.compare_digest(role, w) for w in wanted):
        raise WrongRole(f"this needs the {names} token, not the {role} token")
    return Actor(role, token_digest[:TOKEN_ID_CHARS], via)


def owner(via: str = OFFLINE) -> Actor:
    """The data dir's owner acting offline without a token (admin actions only)."""
    return Actor("admin", None, via)
