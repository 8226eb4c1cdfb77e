"""The clock seam: `serve --clock-offset` moves one process's time forward, within limits, so
a demo or a test can release the window it is in; without it that window stays closed."""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from dap_harness import (
    aggregate_now,
    enroll_all,
    measurement,
    provision,
    release,
    stored_buckets,
)

from worktally.aggregator import clock
from worktally.aggregator.provisioning import init_data_dir
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.wire.windows import window_of


@pytest.fixture
def fresh_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "_offset", None)


@pytest.mark.parametrize("seconds", [-1, -0.5, math.nan, math.inf,
                                     clock.MAX_OFFSET_SECONDS + 1, True])
def test_negative_absurd_or_non_numeric_offsets_are_refused(seconds: float) -> None:
    with pytest.raises(clock.ClockError, match="clock-offset"):
        clock.check_offset(seconds)


def test_the_offset_is_set_once_per_process(fresh_clock: None) -> None:
    before = dt.datetime.now(dt.UTC)
    assert clock.offset() == dt.timedelta(0)
    assert clock.set_offset(3600) == dt.timedelta(hours=1)
    assert clock.set_offset(3600.0) == dt.timedelta(hours=1), "the same value again is fine"
    with pytest.raises(clock.ClockError, match="already 3600"):
        clock.set_offset(7200)
    ahead = clock.now() - before
    assert dt.timedelta(hours=1) <= ahead < dt.timedelta(hours=1, minutes=1)
    assert clock.now().tzinfo is not None


def test_serve_refuses_a_bad_offset_before_opening_anything(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "agg")
    init_data_dir(data, ReleasePolicy())
    for value in ("-60", str(clock.MAX_OFFSET_SECONDS * 2)):
        result = subprocess.run(
            [sys.executable, "-m", "worktally.aggregator.cli", "serve", "--data",
             str(data.root), "--port", "1", "--clock-offset", value],
            capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert result.returncode == 1, result.stderr
        assert "--clock-offset" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_pair_run_ahead_of_time_can_release_the_current_window(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    # A window that cannot end while the test runs (reports open 12 h before a start).
    current = window_of("quarter", now + dt.timedelta(minutes=10))
    secure = provision(tmp_path, roster=12, k_min=10, cli=True)
    try:
        clients = enroll_all(secure, 10)
        vectors = [measurement(i) for i in range(10)]
        for client, vector in zip(clients, vectors, strict=True):
            _, body = client.report(vector, window=current.label)
            assert client.upload(secure.leader.url, body).status_code == 200
        assert aggregate_now(secure)["aggregated"] == 10
        early = release(secure, current.label)
        assert early.status_code == 409 and "has not ended" in early.json()["detail"]

        # Restart both, an hour past the window's end (the helper checks the end too).
        ahead = (current.end - now).total_seconds() + 3600
        secure.stop()
        for server in (secure.leader, secure.helper):
            server.extra += ["--clock-offset", f"{ahead:.0f}"]
        secure.helper.start()
        secure.leader.start()
        assert "ahead of real time" in secure.leader.log.read_text()
        released = release(secure, current.label)
        assert released.status_code == 201, released.text
        assert released.json()["n"] == 10
        after = httpx.post(f"{secure.leader.url}/v1/admin/releases", timeout=30,
                           headers={"Authorization": f"Bearer {secure.admin}"},
                           json={"cohort": "team", "period": current.previous(-1).label})
        assert after.status_code == 409 and "has not ended" in after.json()["detail"], \
            "the offset reaches the current window's end, not the next one's"
    finally:
        secure.stop()
    # Collected at both: the aggregate shares are wiped, the count and checksum agree.
    leader, helper = stored_buckets(secure, current.label)
    assert leader.collected and helper.collected
    assert leader.agg_share is None and helper.agg_share is None
    assert (leader.report_count, leader.checksum) == (helper.report_count, helper.checksum)
    assert leader.report_count == 10
