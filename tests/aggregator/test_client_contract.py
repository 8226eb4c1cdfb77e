"""The developer-side client's own enroll, noise and upload code against a real aggregator."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
from aggregator_harness import Server, bearer, make_deployment

from worktally.aggregator.settings import DataDir
from worktally.client.config import ReportConfig
from worktally.client.report import identity, noise, upload
from worktally.client.wire.envelope import ReportPayload, seal
from worktally.client.wire.schema import METRICS, SCHEMA_VERSION


def test_the_real_client_enrolls_and_its_noised_reports_are_accepted_once(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    enrollment = identity.enroll(server.url, dep.enroll_tokens["team"],
                                 ReportConfig(aggregator_url=server.url, cohort="team"))
    key = identity.load_signing_key()
    clipped = [m.lower + (m.upper - m.lower) // 3 for m in METRICS]
    noised = noise.add_noise(clipped, enrollment.epsilon, enrollment.delta,
                             enrollment.mechanism)
    payload = ReportPayload(SCHEMA_VERSION, enrollment.cohort, "2026-W48", noised.values,
                            enrollment.epsilon, enrollment.delta, noised.mechanism,
                            enrollment.client_id, secrets.token_hex(16))
    body = seal(payload, key, base64.b64decode(enrollment.aggregator_public_key))
    idempotency_key = secrets.token_hex(16)
    first = upload.post_report(server.url, body, idempotency_key, max_attempts=1)
    retry = upload.post_report(server.url, body, idempotency_key, max_attempts=1)
    assert [a.status for a in first + retry] == ["accepted", "duplicate"]

    released = httpx.post(f"{server.url}/v1/admin/releases", headers=bearer(dep.admin_token),
                          json={"cohort": "team", "period": "2026-W48"}, timeout=10)
    assert released.status_code == 201 and released.json()["n"] == 1
    summary = httpx.get(f"{server.url}/v1/admin/summary", headers=bearer(dep.admin_token),
                        timeout=10).json()
    sums = summary["cohorts"][0]["metrics"]
    assert [sums[m.name]["sum"]["estimate"] for m in METRICS] == list(noised.values)
