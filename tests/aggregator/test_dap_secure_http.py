"""Secure mode over real HTTP: a leader and a helper on loopback, 16 enrolled clients.

Every test ends by checking what the two aggregators stored: their batch buckets agree on
the count and checksum, and (before collection) leader share + helper share is the exact sum.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dap_harness import (
    WINDOW,
    Secure,
    aggregate_now,
    bearer,
    combined,
    enroll_all,
    measurement,
    provision,
    release,
    schema_names,
    stored_buckets,
    truth,
)

from worktally.client.wire.dap import b64url
from worktally.client.wire.dap.aggregation import AggregationJobInitReq, checksum_of
from worktally.client.wire.dap.media import AGGREGATION_JOB_INIT_REQ
from worktally.client.wire.dap.messages import ReportError, UploadErrors

pytestmark = pytest.mark.slow


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[Secure]:
    pair = provision(tmp_path)
    yield pair
    pair.stop()


def _summary(secure: Secure) -> dict[str, object]:
    response = httpx.get(f"{secure.leader.url}/v1/admin/summary", headers=bearer(secure.admin),
                         timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_sixteen_clients_to_a_release_equal_to_the_truth(secure: Secure) -> None:
    clients = enroll_all(secure, 16)
    vectors = [measurement(i) for i in range(16)]
    ids = []
    for client, vector in zip(clients, vectors, strict=True):
        report_id, body = client.report(vector)
        response = client.upload(secure.leader.url, body)
        assert response.status_code == 200, response.content
        ids.append(report_id)
    passed = aggregate_now(secure)
    assert passed["aggregated"] == 16 and passed["errors"] == []
    secure.stop()
    total, count = combined(secure)
    assert (total, count) == (truth(vectors), 16)
    leader, _ = stored_buckets(secure)
    assert leader.checksum == checksum_of(ids)
    secure.helper.start()
    secure.leader.start()

    released = release(secure)
    assert released.status_code == 201, released.text
    assert released.json()["mode"] == "secure" and released.json()["n"] == 16
    assert secure.noise_draws() == 1, "the helper draws once; the leader adds none"
    summary = _summary(secure)
    row = summary["cohorts"][0]  # type: ignore[index]
    assert row["mode"] == "secure" and row["period"] == WINDOW and row["n"] == 16
    t = truth(vectors)
    names = schema_names()
    figures = {name: row["metrics"][name]["mean"] for name in names}
    expected = {names[0]: t[0], names[1]: t[1] / t[0], names[2]: t[2] / t[0], names[3]: t[3],
                names[4]: t[4] / t[3], names[5]: t[5] / 16, names[6]: t[6] / 16,
                names[7]: t[7] / 16}
    for name, value in expected.items():
        assert figures[name]["estimate"] == pytest.approx(value, abs=1e-3), name
        assert figures[name]["low"] <= figures[name]["estimate"] <= figures[name]["high"]
    secure.stop()
    leader, helper = stored_buckets(secure)
    assert leader.collected and helper.collected
    assert leader.agg_share is None and helper.agg_share is None, "wiped once collected"
    assert leader.report_count == helper.report_count == 16
    assert leader.checksum == helper.checksum == checksum_of(ids)


def test_a_replayed_report_and_a_second_report_per_person(secure: Secure) -> None:
    a, b = enroll_all(secure, 2)
    _, body = a.report(measurement(1))
    assert a.upload(secure.leader.url, body).status_code == 200
    assert a.upload(secure.leader.url, body).status_code == 200, "the same bytes: idempotent"
    _, other = a.report(measurement(2))
    second = a.upload(secure.leader.url, other)
    assert second.status_code == 409
    assert UploadErrors.decode(second.content).statuses[0].error is ReportError.REPORT_DROPPED
    # b replays a's report (its own signature): the report id is known.
    replay = b.upload(secure.leader.url, body)
    assert replay.status_code == 409
    assert UploadErrors.decode(replay.content).statuses[0].error is ReportError.REPORT_REPLAYED
    assert aggregate_now(secure)["aggregated"] == 1
    secure.stop()
    total, count = combined(secure)
    assert (total, count) == (measurement(1), 1)


def test_the_helper_checks_its_callers(secure: Secure) -> None:
    jobs = f"{secure.helper.url}/tasks/{b64url(secure.task.task_id)}/aggregation_jobs"
    evil = httpx.get(f"{secure.helper.url}/hpke_config", headers={"Host": "evil.example"},
                     timeout=30)
    assert evil.status_code == 400, "a loopback helper refuses other Host headers"
    body = AggregationJobInitReq(0, b"", (), ()).encode()
    for headers in ({}, bearer(secure.helper_admin), bearer(secure.admin)):
        refused = httpx.post(jobs, content=body, timeout=30, headers={
            **headers, "Content-Type": AGGREGATION_JOB_INIT_REQ})
        assert refused.status_code == 401, headers
    unknown = httpx.post(f"{secure.helper.url}/tasks/{b64url(bytes(32))}/aggregation_jobs",
                         content=body, timeout=30, headers={
                             **bearer(secure.leader_token),
                             "Content-Type": AGGREGATION_JOB_INIT_REQ})
    assert unknown.status_code == 404 and unknown.json()["title"] == "unrecognizedTask"
    assert httpx.post(f"{secure.helper.url}/tasks/{b64url(secure.task.task_id)}/reports",
                      content=b"", timeout=30).status_code in (404, 405)
    secure.stop()
    leader, helper = stored_buckets(secure)
    assert leader.report_count == helper.report_count == 0
