"""Report ingest over real HTTP against a real uvicorn: accepted, retried, and every rejection.

After all the rejections the test releases the cohort and checks the released sums are exactly
the accepted reports: a rejected report must leave no trace.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
from aggregator_harness import (
    Server,
    bearer,
    enroll_client,
    make_deployment,
    mid_values,
    post_report,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.settings import DataDir
from worktally.client.wire import envelope
from worktally.client.wire.schema import METRICS, SCHEMA_VERSION, accepted_range, noise_parameters


def test_enrollment_hands_back_the_cohort_policy(tmp_path: Path,
                                                 serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team-a": 12})
    server = serve(dep.data)
    client = enroll_client(server.url, dep.enroll_tokens["team-a"])
    assert client.cohort == "team-a"
    assert len(client.aggregator_key) == 32
    again = httpx.post(f"{server.url}/v1/enroll", timeout=10, json={
        "token": dep.enroll_tokens["team-a"],
        "public_key": base64.b64encode(client.signing_key.public_key().public_bytes_raw())
        .decode()}).json()
    assert again["client_id"] == client.client_id, "re-enrolling a key keeps its id"
    assert again["schema_version"] == SCHEMA_VERSION and again["period"] == "iso-week"
    bad = httpx.post(f"{server.url}/v1/enroll", timeout=10,
                     json={"token": "not-a-token", "public_key": again["aggregator_public_key"]})
    assert bad.status_code == 401 and "token" in bad.json()["detail"]
    lax = httpx.post(f"{server.url}/v1/enroll", timeout=10, json={"token": 1, "public_key": 2})
    assert lax.status_code == 422 and isinstance(lax.json()["detail"], str)


def test_every_rejection_leaves_the_aggregates_untouched(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team-a": 12, "team-b": 10})
    server = serve(dep.data)
    url = server.url
    alice = enroll_client(url, dep.enroll_tokens["team-a"])
    bob = enroll_client(url, dep.enroll_tokens["team-a"])
    carol = enroll_client(url, dep.enroll_tokens["team-b"])

    good = alice.sealed(mid_values(0))
    assert post_report(url, good, "alice-w48-key").status_code == 201
    retry = post_report(url, good, "alice-w48-key")
    assert (retry.status_code, retry.json()["status"]) == (200, "duplicate")

    forger = Ed25519PrivateKey.generate()
    forged = envelope.seal(bob.payload(mid_values(5)), forger, bob.aggregator_key)
    _, raw, _ = envelope.read_header(bob.sealed(mid_values(5)))
    aad_swapped = bob.sealed(mid_values(5)).replace(raw, raw.replace(b"W48", b"W47"))
    stranger = enroll_client(url, dep.enroll_tokens["team-a"])
    unknown = envelope.seal(stranger.payload(mid_values(5), client_id="f" * 32),
                            stranger.signing_key, stranger.aggregator_key)
    metric = METRICS[1]
    _, hi = accepted_range(metric, noise_parameters(bob.epsilon, bob.delta, bob.mechanism)
                           [metric.name])
    too_big = list(mid_values(5))
    too_big[1] = hi + 1
    replay_payload = bob.payload(mid_values(5), period="2026-W47")
    replay_bytes = envelope.seal(replay_payload, bob.signing_key, bob.aggregator_key)
    assert post_report(url, replay_bytes).status_code == 201  # bob's W47 is fine
    same_nonce = bob.payload(mid_values(5), period="2026-W46", nonce=replay_payload.nonce)

    rejections: dict[str, tuple[bytes, dict[str, str], int]] = {
        "forged signature": (forged, {}, 403),
        "aad mismatch": (aad_swapped, {}, 400),
        "unenrolled client": (unknown, {}, 403),
        "out of bounds": (bob.sealed(tuple(too_big)), {}, 422),
        "wrong schema": (bob.sealed(mid_values(5), schema_version=SCHEMA_VERSION + 1), {}, 422),
        "wrong epsilon": (bob.sealed(mid_values(5), epsilon=bob.epsilon * 2), {}, 422),
        "future week": (bob.sealed(mid_values(5), period="2099-W01"), {}, 422),
        "wrong length": (bob.sealed(mid_values(5)[:-1]), {}, 422),
        "other cohort": (bob.sealed(mid_values(5), cohort="team-b"), {}, 422),
        "second report same period": (alice.sealed(mid_values(7)), {}, 409),
        "replayed nonce": (envelope.seal(same_nonce, bob.signing_key, bob.aggregator_key),
                           {}, 409),
        "replayed bytes under a new key": (good, {}, 409),
        "reused key, other body": (bob.sealed(mid_values(5)), {"key": "alice-w48-key"}, 409),
        "malformed": (b"WTR1\x00\x05hello", {}, 400),
        "garbage": (secrets.token_bytes(300), {}, 400),
        "oversized": (b"x" * (envelope.MAX_ENVELOPE_BYTES + 1), {}, 413),
    }
    for name, (data, extra, status) in rejections.items():
        response = post_report(url, data, extra.get("key"))
        assert response.status_code == status, (name, response.text)
        assert isinstance(response.json()["detail"], str) and response.json()["detail"], name
    no_key = httpx.post(f"{url}/v1/reports", content=good, timeout=10)
    assert no_key.status_code == 422
    assert carol.cohort == "team-b"

    released = httpx.post(f"{url}/v1/admin/releases", headers=bearer(dep.admin_token),
                          json={"cohort": "team-a", "period": "2026-W48"}, timeout=10)
    assert released.status_code == 201, released.text
    assert released.json()["n"] == 1, "only alice's first report counts for W48"
    summary = httpx.get(f"{url}/v1/admin/summary", headers=bearer(dep.admin_token),
                        timeout=10).json()
    (row,) = [r for r in summary["cohorts"] if r["period"] == "2026-W48"]
    sums = {name: fig["sum"]["estimate"] for name, fig in row["metrics"].items()}
    assert sums == {m.name: float(v) for m, v in zip(METRICS, mid_values(0), strict=True)}
    late = post_report(url, bob.sealed(mid_values(5)))
    assert late.status_code == 409 and "released" in late.json()["detail"]

    server.stop()
    con = duckdb.connect(str(dep.data.database), read_only=True)
    try:
        counts = dict(con.execute("SELECT period, n FROM contributions "
                                  "WHERE cohort = 'team-a'").fetchall())
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
    finally:
        con.close()
    assert counts == {"2026-W48": 1, "2026-W47": 1}
    assert not any("report" in t and "receipt" not in t for t in tables), \
        "no table holds individual report vectors"
