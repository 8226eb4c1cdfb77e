"""The client's side of local mode, as the wire layer defines it, against a real aggregator:
clip with `measurement.measurement`, noise with `dp_sampling.entry_noise_vector` at the ε the
enrollment answer gave, seal, upload, retry. Every honestly noised report is accepted, once.

(The developer-side report code is being moved to schema 2 separately; when it lands, this
test should drive it instead of these wire-level calls.)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from aggregator_harness import (
    WINDOW,
    Server,
    bearer,
    column_sums,
    enroll_client,
    make_deployment,
    post_report,
)

from worktally.aggregator.provisioning import open_store
from worktally.aggregator.settings import DataDir
from worktally.client.wire.dp_sampling import entry_noise_vector
from worktally.client.wire.measurement import (
    SECURE_METRICS,
    MetricKind,
    local_accepted_range,
    measurement,
)


def test_honestly_noised_reports_are_accepted_once_and_summed_exactly(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 12}, epsilon=1.0)
    server = serve(dep.data)
    sent = []
    for i in range(12):
        client = enroll_client(server.url, dep.token("team"))
        # Extremes too: everything at its bound, or nothing (the gates then zero the shares).
        raw = {m.name: (m.bound if i % 3 == 0 else 0 if i % 3 == 1 else m.bound // 3 + i)
               for m in SECURE_METRICS}
        noised = [v + d for v, d in zip(measurement(raw), entry_noise_vector(client.epsilon),
                                        strict=True)]
        assert all(lo <= v <= hi for v, (lo, hi) in
                   zip(noised, local_accepted_range(client.epsilon), strict=True))
        body, key = client.sealed(noised), secrets.token_hex(16)
        first, retry = post_report(server.url, body, key), post_report(server.url, body, key)
        assert (first.status_code, retry.status_code) == (201, 200)
        assert (first.json()["status"], retry.json()["status"]) == ("accepted", "duplicate")
        sent.append(noised)

    released = httpx.post(f"{server.url}/v1/admin/releases", headers=bearer(dep.admin_token),
                          json={"cohort": "team", "period": WINDOW}, timeout=30)
    assert released.status_code == 201 and released.json()["n"] == 12
    summary = httpx.get(f"{server.url}/v1/admin/summary", headers=bearer(dep.admin_token),
                        timeout=10).json()
    metrics = summary["cohorts"][0]["metrics"]
    active = metrics["ai_active"]["mean"]
    assert active["raw"] == column_sums(sent)[0]
    assert active["low"] <= active["estimate"] <= active["high"]
    for i, m in enumerate(SECURE_METRICS):  # volumes are means over everyone
        if m.kind is MetricKind.VOLUME:
            assert metrics[m.name]["mean"]["raw"] == pytest.approx(column_sums(sent)[i] / 12)
    server.stop()
    store = open_store(dep.data)
    try:
        with store.transaction() as con:
            left = [con.execute(f"SELECT count(*) FROM {table} WHERE period = ?",
                                [WINDOW]).fetchone() for table in ("sums", "local_reports")]
    finally:
        store.close()
    assert left == [(0,), (0,)], "a released window's reports are summed once, then dropped"
