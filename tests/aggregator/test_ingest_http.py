"""Local-mode ingest: enrollment with per-slot tokens, accepted and retried reports, and every
attack refused, over real HTTP against a real uvicorn and in process.

Each attack is checked twice: over HTTP for its status, and in process, where the stored
aggregates (sums, counts, receipts) are read after every single refusal and must not have
moved. The HTTP run ends with a release whose figures come from the accepted reports alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest
from aggregator_harness import (
    PREVIOUS,
    WINDOW,
    EnrolledClient,
    Server,
    bearer,
    column_sums,
    enroll,
    enroll_client,
    make_deployment,
    post_report,
    values,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator import local_reports
from worktally.aggregator.enrollment import active_keys
from worktally.aggregator.enrollment import enroll as enroll_in_process
from worktally.aggregator.errors import AggregatorError
from worktally.aggregator.ingest import ingest
from worktally.aggregator.provisioning import load_private_key, open_store
from worktally.aggregator.settings import DataDir
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire import envelope
from worktally.client.wire.measurement import METRIC_NAMES, SCHEMA_VERSION, local_accepted_range
from worktally.client.wire.windows import window_of

EPSILON = 4.0
RANGES = local_accepted_range(EPSILON)
SHIPPED, TOKENS = METRIC_NAMES.index("shipped_token_share_pm"), \
    METRIC_NAMES.index("ai_tokens_k_per_week")
# Two quarters ahead: never open for reports, whatever the day.
FUTURE = window_of("quarter", dt.datetime.now(dt.UTC)).previous(-2).label


def test_enrollment_hands_back_the_local_policy_and_each_token_works_once(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team-a": 3}, window="month", epsilon=1.5)
    server = serve(dep.data)
    token = dep.token("team-a")
    first = enroll(server.url, token)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["mode"], body["schema_version"], body["epsilon"], body["delta"],
            body["mechanism"], body["period"], body["slot"]) == (
        "local", SCHEMA_VERSION, 1.5, 0.0, "discrete_laplace", "month", 1)
    assert len(base64.b64decode(body["aggregator_public_key"])) == 32
    assert "task_id" not in body or body["task_id"] is None
    again = enroll(server.url, token)
    assert again.status_code == 409 and "already used" in again.json()["detail"]
    unknown = enroll(server.url, "f" * 64)
    assert unknown.status_code == 401 and "token" in unknown.json()["detail"]
    lax = httpx.post(f"{server.url}/v1/enroll", timeout=10, json={"token": 1, "public_key": 2})
    assert lax.status_code == 422 and isinstance(lax.json()["detail"], str)
    server.stop()
    store = open_store(dep.data)
    try:
        assert active_keys(store, "team-a") == 1, "one token enrolled one key"
    finally:
        store.close()


def test_never_more_keys_than_the_roster_and_a_reissued_slot_reports_once(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 3})
    server = serve(dep.data)
    admin = bearer(dep.admin_token)
    more = httpx.post(f"{server.url}/v1/admin/tokens", headers=admin, timeout=10,
                      json={"cohort": "team", "count": 1})
    assert more.status_code == 409 and "roster of 3" in more.json()["detail"]
    clients = [enroll_client(server.url, dep.token("team")) for _ in range(3)]
    assert sorted(c.slot for c in clients) == [1, 2, 3]
    old = clients[0]
    assert post_report(server.url, old.sealed(values(1))).status_code == 201
    reissued = httpx.post(f"{server.url}/v1/admin/tokens", headers=admin, timeout=10,
                          json={"cohort": "team", "slot": old.slot})
    assert reissued.status_code == 201
    new = enroll_client(server.url, reissued.json()[0]["token"])
    assert new.slot == old.slot and new.client_id != old.client_id
    stale = post_report(server.url, old.sealed(values(2), PREVIOUS))
    assert stale.status_code == 403, "the replaced key is revoked"
    again = post_report(server.url, new.sealed(values(3)))
    assert again.status_code == 409 and "already reported" in again.json()["detail"]
    assert post_report(server.url, new.sealed(values(4), PREVIOUS)).status_code == 201
    server.stop()
    store = open_store(dep.data)
    try:
        assert active_keys(store, "team") == 3
        assert stored(store) == ({WINDOW: values(1), PREVIOUS: values(4)},
                                 {WINDOW: 1, PREVIOUS: 1}, 2)
    finally:
        store.close()


@dataclass(frozen=True)
class Attack:
    data: bytes
    status: int
    key: str | None = None


@dataclass(frozen=True)
class Scenario:
    """Reports to accept first (envelope, Idempotency-Key), the sums per window they make,
    and then every report the aggregator must refuse, with the status it answers."""

    accepted: list[tuple[bytes, str]]
    sums: dict[str, list[int]]
    attacks: dict[str, Attack]


def scenario(alice: EnrolledClient, bob: EnrolledClient, carol: EnrolledClient,
             dave: EnrolledClient, stranger: EnrolledClient) -> Scenario:
    # Carol and Dave send values exactly at the edges of the accepted range: accepted.
    at_top, at_bottom = values(2), values(3)
    at_top[SHIPPED] = RANGES[SHIPPED][1]
    at_bottom[TOKENS] = RANGES[TOKENS][0]
    alice_first = alice.sealed(values(0))
    bob_previous = bob.payload(values(5), PREVIOUS)
    accepted = [(alice_first, "alice-window-key"),
                (envelope.seal(bob_previous, bob.signing_key, bob.aggregator_key),
                 secrets.token_hex(8)),
                (carol.sealed(at_top), secrets.token_hex(8)),
                (dave.sealed(at_bottom), secrets.token_hex(8))]
    sums = {WINDOW: column_sums([values(0), at_top, at_bottom]), PREVIOUS: values(5)}

    forger = Ed25519PrivateKey.generate()
    _, raw, _ = envelope.read_header(bob.sealed(values(5)))
    aad_swapped = bob.sealed(values(5)).replace(
        raw, raw.replace(WINDOW.encode(), PREVIOUS.encode()))
    unknown = envelope.seal(stranger.payload(values(5), client_id="f" * 32),
                            stranger.signing_key, stranger.aggregator_key)
    over, under = values(5), values(5)
    over[SHIPPED] = RANGES[SHIPPED][1] + 1
    under[TOKENS] = RANGES[TOKENS][0] - 1
    same_nonce = bob.payload(values(6), nonce=bob_previous.nonce)
    attacks = {
        "forged signature": Attack(envelope.seal(bob.payload(values(5)), forger,
                                                 bob.aggregator_key), 403),
        "aad mismatch": Attack(aad_swapped, 400),
        "unenrolled client": Attack(unknown, 403),
        "beyond the accepted range": Attack(bob.sealed(over), 422),
        "below the accepted range": Attack(bob.sealed(under), 422),
        "schema 1": Attack(bob.sealed(values(5), schema_version=1), 422),
        "a newer schema": Attack(bob.sealed(values(5), schema_version=SCHEMA_VERSION + 1),
                                 422),
        "wrong epsilon": Attack(bob.sealed(values(5), epsilon=bob.epsilon * 2), 422),
        "nonzero delta": Attack(bob.sealed(values(5), delta=1e-6), 422),
        "wrong mechanism": Attack(bob.sealed(values(5), mechanism="gaussian"), 422),
        "a window not started": Attack(bob.sealed(values(5), FUTURE), 422),
        "a week for a quarterly cohort": Attack(bob.sealed(values(5), "2026-W40"), 422),
        "wrong length": Attack(bob.sealed(values(5)[:-1]), 422),
        "other cohort": Attack(bob.sealed(values(5), cohort="team-b"), 422),
        "second report same window": Attack(alice.sealed(values(7)), 409),
        "replayed nonce": Attack(envelope.seal(same_nonce, bob.signing_key,
                                               bob.aggregator_key), 409),
        "replayed bytes under a new key": Attack(alice_first, 409),
        "reused key, other body": Attack(bob.sealed(values(5)), 409, "alice-window-key"),
        "bad idempotency key": Attack(bob.sealed(values(5)), 422, "short"),
        "malformed": Attack(b"WTR1\x00\x05hello", 400),
        "garbage": Attack(secrets.token_bytes(300), 400),
        "oversized": Attack(b"x" * (envelope.MAX_ENVELOPE_BYTES + 1), 413),
    }
    return Scenario(accepted, sums, attacks)


def test_every_attack_over_http_is_refused_and_the_release_counts_only_the_accepted(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team-a": 12, "team-b": 10})
    server = serve(dep.data)
    url = server.url
    alice, bob, carol, dave, stranger = (enroll_client(url, dep.token("team-a"))
                                         for _ in range(5))
    plan = scenario(alice, bob, carol, dave, stranger)
    for data, key in plan.accepted:
        response = post_report(url, data, key)
        assert (response.status_code, response.json()) == (201, {"status": "accepted"})
    retry = post_report(url, *plan.accepted[0])
    assert (retry.status_code, retry.json()["status"]) == (200, "duplicate")
    for name, attack in plan.attacks.items():
        response = post_report(url, attack.data, attack.key)
        assert response.status_code == attack.status, (name, response.text)
        assert isinstance(response.json()["detail"], str) and response.json()["detail"], name
    no_key = httpx.post(f"{url}/v1/reports", content=plan.accepted[0][0], timeout=10)
    assert no_key.status_code == 422

    released = httpx.post(f"{url}/v1/admin/releases", headers=bearer(dep.admin_token),
                          json={"cohort": "team-a", "period": WINDOW}, timeout=30)
    assert released.status_code == 201, released.text
    assert released.json()["n"] == 3, "alice, carol and dave; no refused report"
    summary = httpx.get(f"{url}/v1/admin/summary", headers=bearer(dep.admin_token),
                        timeout=10).json()
    (row,) = summary["cohorts"]
    assert (row["cohort"], row["period"], row["mode"], row["n"]) == ("team-a", WINDOW,
                                                                    "local", 3)
    assert list(row["metrics"]) == list(METRIC_NAMES)
    raw = {name: fig["mean"]["raw"] for name, fig in row["metrics"].items()}
    total = plan.sums[WINDOW]
    # With no aggregator noise, the raw figures are the sums' own: counts, shares over
    # their gate's count, volumes per report.
    assert raw["ai_active"] == total[0] and raw["lines_observed"] == total[3]
    assert raw["shipped_token_share_pm"] == pytest.approx(total[1] / total[0], abs=1e-4)
    assert raw["ai_line_share_pm"] == pytest.approx(total[4] / total[3], abs=1e-4)
    assert raw["ai_tokens_k_per_week"] == pytest.approx(total[5] / 3, abs=1e-4)
    late = post_report(url, bob.sealed(values(5)))
    assert late.status_code == 409 and "released" in late.json()["detail"]

    server.stop()
    con = duckdb.connect(str(dep.data.database), read_only=True)
    try:
        columns = con.execute("SELECT column_name FROM information_schema.columns WHERE "
                              "table_name = 'local_reports' ORDER BY ordinal_position").fetchall()
    finally:
        con.close()
    assert [c for (c,) in columns] == ["cohort", "period", "client_id", "sealed",
                                       "received_at"], "a report's values are kept sealed only"
    store = open_store(dep.data)
    try:
        # The released window's reports were summed once and dropped; the other stays sealed.
        assert stored(store) == ({PREVIOUS: plan.sums[PREVIOUS]}, {PREVIOUS: 1}, 4)
    finally:
        store.close()


def test_after_each_refused_attack_the_stored_aggregates_are_unchanged(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path / "agg", {"team-a": 12, "team-b": 10})
    store = open_store(dep.data)
    private_key = load_private_key(dep.data)
    public = private_key.public_key().public_bytes_raw()
    try:
        clients = []
        for _ in range(5):
            key = Ed25519PrivateKey.generate()
            e = enroll_in_process(store, dep.token("team-a"), key.public_key().public_bytes_raw())
            clients.append(EnrolledClient(e.client_id, e.cohort.name, e.slot, key, public,
                                          e.cohort.epsilon, e.cohort.delta,
                                          e.cohort.mechanism, e.cohort.window))
        plan = scenario(*clients)
        for data, key in plan.accepted:
            assert ingest(store, private_key, data, key).status == "accepted"
        before = stored(store)
        assert before == (plan.sums, {WINDOW: 3, PREVIOUS: 1}, 4)
        for name, attack in plan.attacks.items():
            with pytest.raises(AggregatorError) as refused:
                ingest(store, private_key, attack.data, attack.key or secrets.token_hex(8))
            assert refused.value.status == attack.status, (name, str(refused.value))
            assert stored(store) == before, f"{name} changed the stored aggregates"
        # A retry of an accepted report is answered, and counted once.
        data, key = plan.accepted[0]
        assert ingest(store, private_key, data, key).status == "duplicate"
        assert stored(store) == before
    finally:
        store.close()


def stored(store: AggregatorStore) -> tuple[dict[str, list[int]], dict[str, int], int]:
    """What the aggregator keeps of reports: per window what its sealed reports add up to
    (opened here, as a release would), the report counts, and how many receipts."""
    sums: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    with store.transaction() as con:
        windows = con.execute("SELECT DISTINCT cohort, period FROM local_reports").fetchall()
        for cohort, period in windows:
            opened = local_reports.totals(con, store.root, cohort, period)
            sums[period], counts[period] = opened.sums, opened.n
        receipts = con.execute("SELECT count(*) FROM receipts").fetchone()
    return sums, counts, int(receipts[0]) if receipts else 0
