"""The leader's HTTP client for the helper (and anyone's for `/hpke_config`).

Every call has a timeout. A helper that is down, times out or answers 5xx raises
`PeerUnavailable` (the caller keeps its work and retries later); a 4xx answer raises
`PeerRefused` with the helper's problem detail (a task it never accepted, a batch mismatch).
"""

from __future__ import annotations

import httpx

from worktally.aggregator.errors import AggregatorError, PeerUnavailable
from worktally.client.wire.dap import DapError, b64url
from worktally.client.wire.dap.media import (
    AGGREGATE_SHARE,
    AGGREGATE_SHARE_REQ,
    AGGREGATION_JOB_INIT_REQ,
    AGGREGATION_JOB_RESP,
    HPKE_CONFIG_LIST,
    matches,
)
from worktally.client.wire.dap.messages import HpkeConfigList

DEFAULT_TIMEOUT_S = 30.0


class PeerRefused(AggregatorError):
    """The other aggregator refused the request; the message carries its reason."""

    status = 502

    def __init__(self, detail: str, kind: str = "", status: int = 0) -> None:
        super().__init__(detail)
        self.kind = kind
        self.peer_status = status


class HelperClient:
    """Talks to one task's helper with the task's bearer token."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(timeout=timeout, transport=transport, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def post_job(self, helper_url: str, task_id: bytes, token: str, body: bytes) -> bytes:
        url = f"{_base(helper_url)}/tasks/{b64url(task_id)}/aggregation_jobs"
        return self._post(url, token, body, AGGREGATION_JOB_INIT_REQ, AGGREGATION_JOB_RESP)

    def post_aggregate_share(self, helper_url: str, task_id: bytes, token: str,
                             body: bytes) -> bytes:
        url = f"{_base(helper_url)}/tasks/{b64url(task_id)}/aggregate_shares"
        return self._post(url, token, body, AGGREGATE_SHARE_REQ, AGGREGATE_SHARE)

    def hpke_config(self, base_url: str) -> HpkeConfigList:
        try:
            response = self._http.get(f"{_base(base_url)}/hpke_config")
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise PeerRefused(f"{base_url[:80]} is not a URL this aggregator can reach: "
                              f"{exc}") from exc
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{base_url} did not answer ({type(exc).__name__}); is the "
                                  "aggregator running there?") from exc
        if response.status_code != 200 or not matches(response.headers.get("content-type"),
                                                      HPKE_CONFIG_LIST):
            raise PeerRefused(f"{base_url}/hpke_config answered {response.status_code} without "
                              "an HPKE config list")
        try:
            return HpkeConfigList.decode(response.content)
        except DapError as exc:
            raise PeerRefused(f"{base_url}/hpke_config sent a malformed config list: "
                              f"{exc}") from exc

    def _post(self, url: str, token: str, body: bytes, media: str, expect: str) -> bytes:
        try:
            response = self._http.post(url, content=body, headers={
                "Content-Type": media, "Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"the helper did not answer ({type(exc).__name__}); the "
                                  "work is kept and retried") from exc
        if response.status_code >= 500:
            raise PeerUnavailable(f"the helper failed with {response.status_code}; the work "
                                  "is kept and retried")
        if response.status_code >= 400:
            kind, detail = _problem(response)
            raise PeerRefused(f"the helper refused: {detail}", kind, response.status_code)
        if not matches(response.headers.get("content-type"), expect):
            raise PeerRefused(f"the helper answered {response.status_code} with "
                              f"{response.headers.get('content-type')!r}, not {expect}")
        return response.content


def _base(url: str) -> str:
    return url.rstrip("/")


def _problem(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return "", f"HTTP {response.status_code}"
    kind = str(body.get("type", "")).rsplit(":", 1)[-1]
    return kind, str(body.get("detail") or f"HTTP {response.status_code}")
