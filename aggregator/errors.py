"""The aggregator's exception hierarchy; each error carries the HTTP status the API answers with."""

from __future__ import annotations

from worktally.client.wire.errors import WorktallyError


class AggregatorError(WorktallyError):
    """Base class; `status` is the HTTP status and the message is the response's detail.

    `reason`, when set, is a stable code sent beside the detail (`{"detail", "reason"}`) for
    refusals a client must tell apart to give its developer true advice (`window_closed`,
    `key_revoked`, `over_roster`, ...; the client's `report/upload.py` maps them).
    """

    status = 400
    reason: str | None = None

    def __init__(self, message: str = "", reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class NotInitialised(AggregatorError):
    """The data directory has no aggregator in it yet."""

    status = 500


class AggregatorBusy(AggregatorError):
    """Another process (usually `serve`) holds the aggregator database."""

    status = 503


class AuthError(AggregatorError):
    """A missing or unknown bearer token."""

    status = 401


class WrongRole(AggregatorError):
    """A valid token of the wrong role (an admin token on a privacy endpoint, or the reverse)."""

    status = 403


class NotFound(AggregatorError):
    """A cohort, period or release that does not exist."""

    status = 404


class Conflict(AggregatorError):
    """The request clashes with stored state: a replay, a second report, a repeated release."""

    status = 409


class PolicyViolation(AggregatorError):
    """A well-formed report that breaks the cohort's policy (schema, DP parameters, bounds)."""

    status = 422


class ReleaseRefused(AggregatorError):
    """A release the privacy rules forbid (roster under k, too few contributors, on hold)."""

    status = 409


class PayloadTooLarge(AggregatorError):
    """A request body over the envelope size limit."""

    status = 413


class Forbidden(AggregatorError):
    """An authenticated caller who may not do this (a revoked key, another cohort's client)."""

    status = 403


class PeerUnavailable(AggregatorError):
    """The other aggregator did not answer; the work is kept and retried."""

    status = 503


class DapProblem(AggregatorError):
    """A DAP protocol error, answered as an RFC 9457 problem document whose `type` is DAP's
    error URN (`invalidMessage`, `unrecognizedTask`, `batchMismatch`, ...)."""

    def __init__(self, kind: str, detail: str, status: int = 400,
                 task_id: bytes | None = None, reason: str | None = None) -> None:
        super().__init__(detail, reason)
        self.kind = kind
        self.status = status
        self.task_id = task_id
