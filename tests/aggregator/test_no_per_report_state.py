"""No per-report state is recoverable from an aggregator's database files.

Local mode used to add each report to running sums as it arrived, so the WAL (and freed pages)
held successive totals whose difference is one person's noised vector. Now a report stays
sealed until its window is released, and the release sums them in memory. The test sends
reports with distinctive values and scans every byte of the database and its WAL, while
serving and after the release, for any report's values and any partial sum."""

from __future__ import annotations

import struct
from pathlib import Path

import httpx
import pytest
from aggregator_harness import (
    WINDOW,
    bearer,
    enroll_client,
    make_deployment,
    post_report,
    start_server,
    values,
)

pytestmark = pytest.mark.slow
TOKENS = 5  # ai_tokens_k_per_week: wide enough an accepted range for distinctive values
PEOPLE = 4


def vector(i: int) -> list[int]:
    v = values(i)
    v[TOKENS] = 2_718_281 + 104_729 * i  # nothing else in the files looks like these
    return v


def encodings(number: int) -> list[bytes]:
    out = [struct.pack("<q", number), struct.pack("<d", float(number))]
    if -2**31 <= number < 2**31:
        out.append(struct.pack("<i", number))
    return out


def found(root: Path, numbers: dict[str, int]) -> list[str]:
    blobs = {p.name: p.read_bytes() for p in root.iterdir()
             if p.name.startswith("aggregator.duckdb")}
    assert "aggregator.duckdb" in blobs
    return [f"{what} in {name}" for name, blob in blobs.items()
            for what, number in numbers.items()
            if any(e in blob for e in encodings(number))]


def test_no_report_and_no_partial_sum_is_in_the_database_files(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 6}, k_min=2, min_contributors=2)
    sent = [vector(i) for i in range(PEOPLE)]
    secret = {f"report {i}": v[TOKENS] for i, v in enumerate(sent)}
    secret |= {f"sum of the first {j}": sum(v[TOKENS] for v in sent[:j])
               for j in range(2, PEOPLE)}
    server = start_server(dep.data, tmp_path / "home")
    try:
        for v in sent:
            client = enroll_client(server.url, dep.token("team"))
            assert post_report(server.url, client.sealed(v)).status_code == 201
        hits = found(dep.data.root, secret)
        assert hits == [], hits
        released = httpx.post(f"{server.url}/v1/admin/releases", headers=bearer(
            dep.admin_token), json={"cohort": "team", "period": WINDOW}, timeout=30)
        assert released.status_code == 201, released.text
        summary = httpx.get(f"{server.url}/v1/admin/summary", timeout=30,
                            headers=bearer(dep.admin_token)).json()
        (row,) = summary["cohorts"]
        mean = row["metrics"]["ai_tokens_k_per_week"]["mean"]["raw"]
        assert mean == pytest.approx(sum(v[TOKENS] for v in sent) / PEOPLE)
        assert found(dep.data.root, secret) == []
    finally:
        server.stop()
    assert found(dep.data.root, secret) == []
