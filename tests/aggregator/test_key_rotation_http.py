"""HPKE keys rotate each month at both roles: /hpke_config lists the new key first and the
old ones after; a report sealed to last month's keys still aggregates; new reports are sealed
to the newest; a retired key is deleted once nothing sealed to it can need opening, and not
before. (The client's side: tests/client/report/test_report_rotation.py.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dap_harness import (
    Secure,
    aggregate_now,
    combined,
    enroll_all,
    enroll_client,
    measurement,
    provision,
    release,
    truth,
)

from worktally.aggregator.dap.keys import (
    AGGREGATOR,
    KEY_WINDOW,
    deletable,
    load_keys,
    rotate,
)
from worktally.aggregator.provisioning import init_data_dir, open_store
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.wire.dap.messages import HpkeConfigList
from worktally.client.wire.windows import window_of

pytestmark = pytest.mark.slow


def configs(url: str) -> list[int]:
    answer = httpx.get(f"{url}/hpke_config", timeout=10)
    assert answer.status_code == 200
    return [c.id for c in HpkeConfigList.decode(answer.content).configs]


def next_month_offset() -> float:
    """Seconds from now to an hour into next month."""
    now = dt.datetime.now(dt.UTC)
    start = window_of(KEY_WINDOW, now).previous(-1).start
    return (start - now).total_seconds() + 3600


def restart_with_offset(pair: Secure, seconds: float) -> None:
    pair.stop()
    for server in (pair.helper, pair.leader):
        server.extra = [*server.extra, "--clock-offset", f"{seconds:.0f}"]
        server.start()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Secure]:
    secure = provision(tmp_path / "pair", roster=16, k_min=10)
    yield secure
    secure.stop()


def test_a_report_sealed_to_last_months_keys_still_aggregates(pair: Secure) -> None:
    assert configs(pair.leader.url) == [1] and configs(pair.helper.url) == [1]
    clients = enroll_all(pair, 11)
    vectors = [measurement(i) for i in range(11)]
    # All reports are made now, sealed to this month's keys; half are sent now.
    bodies = [c.report(v)[1] for c, v in zip(clients[:10], vectors[:10], strict=True)]
    for client, body in zip(clients[:5], bodies[:5], strict=True):
        assert client.upload(pair.leader.url, body).status_code == 200

    restart_with_offset(pair, next_month_offset())
    assert configs(pair.leader.url) == [2, 1] and configs(pair.helper.url) == [2, 1]
    for client, body in zip(clients[5:10], bodies[5:10], strict=True):
        assert client.upload(pair.leader.url, body).status_code == 200
    # A report made now is sealed to the newest keys of both.
    fresh = enroll_client(pair, pair.tokens[11])
    assert fresh.leader_hpke.configs[0].id == fresh.helper_hpke.configs[0].id == 2
    _, body = fresh.report(vectors[10])
    assert fresh.upload(pair.leader.url, body).status_code == 200
    assert aggregate_now(pair)["aggregated"] == 11

    assert release(pair).status_code == 201
    pair.stop()
    leader_store = open_store(pair.leader.data)
    try:
        with leader_store.transaction() as con:
            n = con.execute("SELECT n FROM releases").fetchone()
    finally:
        leader_store.close()
    assert n == (11,)


def test_old_and_new_reports_add_up_exactly(pair: Secure) -> None:
    clients = enroll_all(pair, 10)
    vectors = [measurement(i) for i in range(10)]
    bodies = [c.report(v)[1] for c, v in zip(clients, vectors, strict=True)]
    restart_with_offset(pair, next_month_offset())
    for client, body in zip(clients, bodies, strict=True):
        assert client.upload(pair.leader.url, body).status_code == 200
    assert aggregate_now(pair)["aggregated"] == 10
    pair.stop()
    total, count = combined(pair)
    assert count == 10 and total == truth(vectors)


# --- which retired keys may go ----------------------------------------------------------------


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _with_task(root: Path, kind: str) -> tuple[DataDir, Any]:
    """A leader data dir made on 2026-01-10 with one `kind` task (no helper needed)."""
    from worktally.aggregator import clock
    from worktally.aggregator.dap.tasks import create_task
    from worktally.client.wire.dap.hpke import HpkeKeyPair

    data = DataDir(root)
    init_data_dir(data, ReleasePolicy())
    store = open_store(data)
    with store.transaction() as con:
        con.execute("UPDATE hpke_keys SET created_at = ?, key_window = '2026-01'",
                    [_at("2026-01-10")])
    helper = HpkeConfigList((HpkeKeyPair.generate(1).config,))
    task = create_task(store, data, cohort="web", roster=12, leader_url="http://127.0.0.1:1",
                       helper_url="http://127.0.0.1:2", helper_hpke=helper, window=kind,
                       epsilon=1.3 if kind == "month" else 4.0)
    assert clock.offset() == dt.timedelta(0)
    return data, (store, task)


def test_a_retired_key_stays_until_its_windows_close_then_goes(tmp_path: Path) -> None:
    data, (store, task) = _with_task(tmp_path / "leader", "month")
    try:
        made = rotate(store, data, _at("2026-02-01T00:05"))
        assert made.made == 2 and made.deleted == ()
        assert list(load_keys(store, data, AGGREGATOR)) == [2, 1]
        # Key 1 was current in January: reports sealed to it can be for November to
        # February; February takes reports until May 1.
        for moment in ("2026-02-03", "2026-03-15", "2026-04-30T23:00"):
            assert rotate(store, data, _at(moment)).deleted == (), moment
            assert data.hpke_key(AGGREGATOR, 1).exists()
        with store.transaction() as con:  # a report still waits for aggregation
            con.execute("INSERT INTO dap_pending VALUES (?, ?, '2026-02', ?, NULL)",
                        [task.task_id, bytes(16), b"sealed"])
        assert 1 not in rotate(store, data, _at("2026-05-02")).deleted
        with store.transaction() as con:
            con.execute("DELETE FROM dap_pending")
        gone = rotate(store, data, _at("2026-05-03"))
        assert 1 in gone.deleted and not data.hpke_key(AGGREGATOR, 1).exists()
        assert 1 not in load_keys(store, data, AGGREGATOR)
    finally:
        store.close()


def test_collected_batches_free_a_key_early_and_the_helper_waits_longer(
        tmp_path: Path) -> None:
    data, (store, task) = _with_task(tmp_path / "leader", "month")
    try:
        rotate(store, data, _at("2026-02-01T00:05"))
        with store.transaction() as con:
            for label in ("2025-11", "2025-12", "2026-01", "2026-02"):
                con.execute("INSERT INTO dap_batches VALUES (?, ?, NULL, 10, ?, true)",
                            [task.task_id, label, bytes(32)])
        assert rotate(store, data, _at("2026-02-01T12:00")).deleted == (), "grace first"
        assert rotate(store, data, _at("2026-03-05")).deleted == (1,)
        # The same windows, uncollected, at a helper: it waits 30 days past their close.
        with store.transaction() as con:
            con.execute("DELETE FROM dap_batches")
            assert not deletable(con, "helper", _at("2026-01-10"), _at("2026-02-01"),
                                 _at("2026-05-20"))
            assert deletable(con, "helper", _at("2026-01-10"), _at("2026-02-01"),
                             _at("2026-06-01"))
    finally:
        store.close()
