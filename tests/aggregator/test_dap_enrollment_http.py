"""k means k people, over real HTTP: one-use tokens, never more keys than the roster, and a
reissued slot's new key replacing the old one. Each test ends with the stored aggregates."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from dap_harness import (
    Secure,
    admin_post,
    aggregate_now,
    combined,
    enroll,
    enroll_client,
    measurement,
    provision,
)

from worktally.aggregator.enrollment import active_keys, issue_tokens
from worktally.aggregator.enrollment import enroll as enroll_in_process
from worktally.aggregator.errors import AuthError, Conflict, NotFound
from worktally.aggregator.provisioning import digest, open_store
from worktally.client.wire.dap.messages import ReportError, UploadErrors
from worktally.client.wire.envelope import ReportPayload, seal
from worktally.client.wire.schema import METRICS, SCHEMA_VERSION

pytestmark = pytest.mark.slow


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[Secure]:
    pair = provision(tmp_path, roster=12, tokens=10)
    yield pair
    pair.stop()


def test_one_token_enrolls_one_key_once(secure: Secure) -> None:
    token = secure.tokens[0]
    assert enroll(secure, token).status_code == 200
    again = enroll(secure, token)
    assert again.status_code == 409 and "already used" in again.json()["detail"]
    assert enroll(secure, "f" * 64).status_code == 401
    secure.stop()
    store = open_store(secure.leader.data)
    try:
        assert active_keys(store, "team") == 1
    finally:
        store.close()
    _, count = combined(secure)
    assert count == 0


def test_never_more_keys_than_the_roster(secure: Secure) -> None:
    more = admin_post(secure, "/v1/admin/tokens", {"cohort": "team", "count": 3})
    assert more.status_code == 409 and "roster of 12" in more.json()["detail"]
    last = admin_post(secure, "/v1/admin/tokens", {"cohort": "team", "count": 2})
    assert last.status_code == 201 and [t["slot"] for t in last.json()] == [11, 12]
    tokens = secure.tokens + [t["token"] for t in last.json()]
    clients = [enroll_client(secure, t) for t in tokens]
    assert sorted(c.slot for c in clients) == list(range(1, 13))
    assert admin_post(secure, "/v1/admin/tokens", {"cohort": "team"}).status_code == 409
    # Every key reports once for the window; the batch holds exactly the roster.
    for i, client in enumerate(clients):
        _, body = client.report(measurement(i))
        assert client.upload(secure.leader.url, body).status_code == 200
    assert aggregate_now(secure)["aggregated"] == 12
    secure.stop()
    store = open_store(secure.leader.data)
    try:
        assert active_keys(store, "team") == 12
    finally:
        store.close()
    _, count = combined(secure)
    assert count == 12


def test_reissuing_a_slot_replaces_its_key(secure: Secure) -> None:
    old = enroll_client(secure, secure.tokens[0])
    _, first = old.report(measurement(1))
    assert old.upload(secure.leader.url, first).status_code == 200
    reissued = admin_post(secure, "/v1/admin/tokens", {"cohort": "team", "slot": old.slot})
    assert reissued.status_code == 201
    new = enroll_client(secure, reissued.json()[0]["token"])
    assert new.slot == old.slot and new.client_id != old.client_id
    # The old key is revoked; the new one is the same person: one report per window still.
    _, stale = old.report(measurement(2))
    assert old.upload(secure.leader.url, stale).status_code == 403
    _, second = new.report(measurement(3))
    dropped = new.upload(secure.leader.url, second)
    assert dropped.status_code == 409
    assert UploadErrors.decode(dropped.content).statuses[0].error is ReportError.REPORT_DROPPED
    nonexistent = admin_post(secure, "/v1/admin/tokens", {"cohort": "team", "slot": 12})
    assert nonexistent.status_code == 404
    assert aggregate_now(secure)["aggregated"] == 1
    secure.stop()
    store = open_store(secure.leader.data)
    try:
        assert active_keys(store, "team") == 1
    finally:
        store.close()
    total, count = combined(secure)
    assert (total, count) == (measurement(1), 1)


def test_expired_and_superseded_tokens_are_refused(tmp_path: Path) -> None:
    secure = provision(tmp_path, roster=12, tokens=2)
    secure.stop()
    store = open_store(secure.leader.data)
    try:
        with store.transaction() as con:
            con.execute("UPDATE slot_tokens SET expires_at = ? WHERE token_sha256 = ?",
                        [datetime.now(UTC) - timedelta(minutes=1), digest(secure.tokens[0])])
        with pytest.raises(AuthError, match="expired"):
            enroll_in_process(store, secure.tokens[0], _public_key())
        (replacement,) = issue_tokens(store, "team", slot=2)
        with pytest.raises(AuthError, match="replaced by a newer one"):
            enroll_in_process(store, secure.tokens[1], _public_key())
        enrolled = enroll_in_process(store, replacement.token, _public_key())
        assert enrolled.slot == 2
        with pytest.raises(Conflict):
            enroll_in_process(store, replacement.token, _public_key())
        with pytest.raises(NotFound):
            issue_tokens(store, "nosuch")
    finally:
        store.close()
    total, count = combined(secure)
    assert (total, count) == ([0] * 8, 0)


def _public_key() -> bytes:
    return Ed25519PrivateKey.generate().public_key().public_bytes_raw()


def test_a_local_envelope_is_refused_for_a_secure_cohort(secure: Secure) -> None:
    """A secure cohort's client cannot fall back to a locally noised envelope."""
    key = Ed25519PrivateKey.generate()
    enrolled = enroll(secure, secure.tokens[0], key).json()
    payload = ReportPayload(SCHEMA_VERSION, "team", "2026-W40", tuple([0] * len(METRICS)),
                            enrolled["epsilon"], 0.0, enrolled["mechanism"],
                            enrolled["client_id"], secrets.token_hex(16))
    sealed = seal(payload, key, base64.b64decode(enrolled["aggregator_public_key"]))
    response = httpx.post(f"{secure.leader.url}/v1/reports", content=sealed, timeout=30,
                          headers={"Idempotency-Key": secrets.token_hex(8),
                                   "Content-Type": "application/octet-stream"})
    assert response.status_code == 422
    assert "secure aggregation" in response.json()["detail"]
    secure.stop()
    _, count = combined(secure)
    assert count == 0
