"""Secure mode's faults over real HTTP: the helper down mid-job, the leader killed mid-job,
a collector asking twice, and releases the rules refuse. Each ends with the stored
aggregates checked at both aggregators."""

from __future__ import annotations

import threading
import time
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
    stored_buckets,
    truth,
)

from worktally.aggregator.provisioning import open_store
from worktally.client.wire.dap import b64url
from worktally.client.wire.dap.aggregation import (
    AggregateShareReq,
    CollectionJobReq,
    CollectionJobResp,
    checksum_of,
)
from worktally.client.wire.dap.media import AGGREGATE_SHARE_REQ, COLLECTION_JOB_REQ
from worktally.client.wire.dap.window import window_query

pytestmark = pytest.mark.slow
DEADLINE_S = 60.0


def _upload_all(secure: Secure, count: int) -> tuple[list[list[int]], list[bytes]]:
    vectors, ids = [], []
    for i, client in enumerate(enroll_all(secure, count)):
        vector = measurement(i)
        report_id, body = client.report(vector)
        assert client.upload(secure.leader.url, body).status_code == 200
        vectors.append(vector)
        ids.append(report_id)
    return vectors, ids


def _jobs(secure: Secure, server: str) -> list[tuple[str, int]]:
    """(state, attempts) of every stored aggregation job (the server must be stopped)."""
    data = secure.leader.data if server == "leader" else secure.helper.data
    store = open_store(data)
    try:
        with store.transaction() as con:
            rows = con.execute("SELECT state, attempts FROM dap_jobs ORDER BY created_at")
            return [(r[0], int(r[1])) for r in rows.fetchall()]
    finally:
        store.close()


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)  # polling interval; the deadline bounds the wait


def test_the_helper_down_during_a_job_is_retried_and_counts_once(tmp_path: Path) -> None:
    gate, marker = tmp_path / "gate", tmp_path / "held"
    secure = provision(tmp_path, helper_extra=["--hold-gate", str(gate), "--hold-marker",
                                               str(marker)])
    try:
        vectors, ids = _upload_all(secure, 12)
        # 1. The helper is down: the job is written down, the send fails, the job waits.
        secure.helper.stop()
        first = aggregate_now(secure)
        assert first["aggregated"] == 0 and first["errors"], first
        batches = httpx.get(f"{secure.leader.url}/v1/admin/batches", timeout=30,
                            headers=bearer(secure.admin)).json()
        assert batches[0]["pending"] == 12 and batches[0]["unfinished_jobs"] == 1
        assert "did not answer" in batches[0]["last_error"]
        # 2. The helper commits the job, then dies before its answer reaches the leader.
        gate.write_text("hold")
        secure.helper.start()
        sender = threading.Thread(target=lambda: admin_aggregate_quietly(secure))
        sender.start()
        _wait_for(marker)
        secure.helper.kill()
        sender.join(timeout=DEADLINE_S)
        gate.unlink()
        # 3. Back up: the leader resends the same job; the helper answers from storage.
        secure.helper.start()
        again = aggregate_now(secure)
        assert again["aggregated"] == 12 and again["errors"] == [], again
        secure.stop()
        assert _jobs(secure, "helper") == [("done", 1)], "one job, committed once"
        assert [state for state, _ in _jobs(secure, "leader")] == ["done"]
        total, count = combined(secure)
        assert (total, count) == (truth(vectors), 12)
        assert stored_buckets(secure)[1].checksum == checksum_of(ids)
    finally:
        secure.stop()


def admin_aggregate_quietly(secure: Secure) -> None:
    """Trigger a pass whose answer will never come (the helper is killed mid-answer)."""
    try:
        httpx.post(f"{secure.leader.url}/v1/admin/aggregate", headers=bearer(secure.admin),
                   timeout=DEADLINE_S)
    except httpx.HTTPError:
        return


def test_the_leader_killed_mid_job_resumes_after_restart(tmp_path: Path) -> None:
    gate, marker = tmp_path / "gate", tmp_path / "held"
    secure = provision(tmp_path, helper_extra=["--hold-gate", str(gate), "--hold-marker",
                                               str(marker)])
    try:
        vectors, _ = _upload_all(secure, 10)
        gate.write_text("hold")
        sender = threading.Thread(target=lambda: admin_aggregate_quietly(secure))
        sender.start()
        _wait_for(marker)  # the helper has committed the job; its answer is held
        secure.leader.kill()
        sender.join(timeout=DEADLINE_S)
        gate.unlink()
        secure.helper.stop()
        assert _jobs(secure, "leader") == [("sent", 0)], "written down before it was sent"
        leader, helper = stored_buckets(secure)
        assert (leader.report_count, helper.report_count) == (0, 10)
        # The restarted leader (driver every 0.2 s) resends the job by itself.
        secure.helper.start()
        secure.leader.extra += ["--driver-interval", "0.2"]
        secure.leader.start()
        deadline = time.monotonic() + DEADLINE_S
        while True:
            batch = httpx.get(f"{secure.leader.url}/v1/admin/batches", timeout=30,
                              headers=bearer(secure.admin)).json()[0]
            if batch["reports"] == 10:
                break
            assert time.monotonic() < deadline, batch
            time.sleep(0.1)  # polling interval; the deadline bounds the wait
        assert batch["pending"] == 0 and batch["unfinished_jobs"] == 0
        secure.stop()
        assert _jobs(secure, "helper") == [("done", 1)]
        total, count = combined(secure)
        assert (total, count) == (truth(vectors), 10)
    finally:
        secure.stop()


def _collect(secure: Secure) -> httpx.Response:
    body = CollectionJobReq(window_query(WINDOW)).encode()
    return httpx.post(f"{secure.leader.url}/tasks/{b64url(secure.task.task_id)}/collection_jobs",
                      content=body, timeout=60, headers={
                          **bearer(secure.admin), "Content-Type": COLLECTION_JOB_REQ})


@pytest.mark.parametrize("copies", [1, 2])
def test_a_collector_asking_twice_gets_the_same_noisy_answer(tmp_path: Path,
                                                              copies: int) -> None:
    noise = [1, -30, 7, 2, 11, 160, -16, 32]
    secure = provision(tmp_path, noise="const:" + ",".join(map(str, noise)),
                       noise_copies=copies)
    try:
        vectors, ids = _upload_all(secure, 11)
        first = _collect(secure)
        assert first.status_code == 201, first.text
        second = _collect(secure)
        assert second.status_code == 201 and second.content == first.content
        polled = httpx.get(secure.leader.url + first.headers["Location"], timeout=30,
                           headers=bearer(secure.admin))
        assert polled.status_code == 200 and polled.content == first.content
        assert CollectionJobResp.decode(first.content).report_count == 11
        assert secure.noise_draws() == copies, "each aggregator draws once per batch"
        # A hold placed afterwards blocks handing the stored answer out again.
        hold = {"cohort": "team", "period": WINDOW, "reason": "second look"}
        assert httpx.post(f"{secure.leader.url}/v1/privacy/holds", json=hold, timeout=30,
                          headers=bearer(secure.officer)).status_code == 201
        assert _collect(secure).status_code == 409
        assert httpx.delete(f"{secure.leader.url}/v1/privacy/holds/team/{WINDOW}", timeout=30,
                            headers=bearer(secure.officer)).status_code == 200
        # The leader asking the helper again (a retry) gets the very same sealed share.
        request = AggregateShareReq(CollectionJobReq(window_query(WINDOW)),
                                    window_query(WINDOW), 11, checksum_of(ids)).encode()
        url = f"{secure.helper.url}/tasks/{b64url(secure.task.task_id)}/aggregate_shares"
        headers = {**bearer(secure.leader_token), "Content-Type": AGGREGATE_SHARE_REQ}
        retry = httpx.post(url, content=request, headers=headers, timeout=30)
        assert retry.status_code == 200
        assert retry.content in first.content
        other = AggregateShareReq(CollectionJobReq(window_query(WINDOW)),
                                  window_query(WINDOW), 10, bytes(32)).encode()
        overlap = httpx.post(url, content=other, headers=headers, timeout=30)
        assert overlap.status_code == 409 and overlap.json()["title"] == "batchOverlap"
        # The release opens that same collection: no new draw, noise added `copies` times.
        released = release(secure)
        assert released.status_code == 201, released.text
        assert secure.noise_draws() == copies
        assert release(secure).status_code == 409
        summary = httpx.get(f"{secure.leader.url}/v1/admin/summary", timeout=30,
                            headers=bearer(secure.admin)).json()
        metrics = summary["cohorts"][0]["metrics"]
        t = truth(vectors)
        assert metrics["ai_active"]["mean"]["raw"] == t[0] + copies * noise[0]
        assert metrics["ai_tokens_k_per_week"]["mean"]["raw"] == pytest.approx(
            (t[5] + copies * noise[5]) / 11, abs=1e-3)
        secure.stop()
        leader, helper = stored_buckets(secure)
        assert leader.collected and helper.collected
        assert leader.report_count == helper.report_count == 11
        assert leader.checksum == helper.checksum == checksum_of(ids)
    finally:
        secure.stop()


def test_a_release_under_k_is_refused_by_both_aggregators(tmp_path: Path) -> None:
    secure = provision(tmp_path)
    try:
        vectors, ids = _upload_all(secure, 9)
        refused = release(secure)
        assert refused.status_code == 409 and "under k=10" in refused.json()["detail"]
        request = AggregateShareReq(CollectionJobReq(window_query(WINDOW)),
                                    window_query(WINDOW), 9, checksum_of(ids)).encode()
        direct = httpx.post(
            f"{secure.helper.url}/tasks/{b64url(secure.task.task_id)}/aggregate_shares",
            content=request, timeout=30,
            headers={**bearer(secure.leader_token), "Content-Type": AGGREGATE_SHARE_REQ})
        assert direct.status_code == 400 and direct.json()["title"] == "invalidBatchSize"
        wrong_token = httpx.post(
            f"{secure.helper.url}/tasks/{b64url(secure.task.task_id)}/aggregate_shares",
            content=request, timeout=30,
            headers={**bearer(secure.helper_admin), "Content-Type": AGGREGATE_SHARE_REQ})
        assert wrong_token.status_code == 401
        held = httpx.post(f"{secure.leader.url}/v1/privacy/holds", timeout=30,
                          headers=bearer(secure.officer),
                          json={"cohort": "team", "period": WINDOW, "reason": "review"})
        assert held.status_code == 201
        assert "hold" in release(secure).json()["detail"]
        assert secure.noise_draws() == 0
        secure.stop()
        leader, helper = stored_buckets(secure)
        assert not leader.collected and not helper.collected
        total, count = combined(secure)
        assert (total, count) == (truth(vectors), 9)
    finally:
        secure.stop()
