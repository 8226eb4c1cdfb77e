"""The DB owner thread: jobs run in order on one thread, errors reach the caller, and reads
on the cursor pool are not blocked by a long write."""

from __future__ import annotations

import threading

import pytest

from worktally.client.agent.owner import DbOwner, OwnerStoppedError
from worktally.client.store import db


@pytest.fixture
def owner(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))
    con = db.connect(tmp_path / "owner.duckdb")
    running = DbOwner(con).start()
    yield running
    running.stop()
    con.close()


def test_jobs_run_in_order_on_one_thread(owner):
    seen: list[tuple[int, str]] = []
    futures = [owner.post(lambda con, i=i: seen.append((i, threading.current_thread().name)))
               for i in range(20)]
    for f in futures:
        f.result(timeout=10)
    assert [i for i, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"db-owner"}


def test_results_and_errors_reach_the_caller(owner):
    assert owner.submit(lambda con: con.execute("SELECT 40 + 2").fetchone()[0]) == 42
    with pytest.raises(ZeroDivisionError):
        owner.submit(lambda con: 1 / 0)
    # The thread survives a failing job.
    assert owner.submit(lambda con: "alive") == "alive"


def test_a_job_may_submit_another_without_deadlock(owner):
    assert owner.submit(lambda con: owner.submit(lambda inner: 7), timeout=10) == 7


def test_reads_are_not_blocked_by_a_long_write(owner):
    owner.submit(lambda con: con.execute(
        "INSERT INTO drained_batches VALUES ('committed', now(), 1)"))
    release = threading.Event()
    started = threading.Event()

    def long_write(con):
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO drained_batches VALUES ('in-flight', now(), 1)")
        started.set()
        release.wait(timeout=30)
        con.execute("COMMIT")

    pending = owner.post(long_write)
    assert started.wait(timeout=10)
    try:
        ids = owner.read(lambda cur: [r[0] for r in cur.execute(
            "SELECT batch_id FROM drained_batches ORDER BY batch_id").fetchall()], timeout=5)
        # The read sees the last committed state, not the write in flight.
        assert ids == ["committed"]
    finally:
        release.set()
    pending.result(timeout=10)
    after = owner.read(lambda cur: cur.execute("SELECT count(*) FROM drained_batches")
                       .fetchone()[0])
    assert after == 2


def test_stopped_owner_refuses_work(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))
    con = db.connect(tmp_path / "stopped.duckdb")
    stopped = DbOwner(con).start()
    stopped.stop()
    with pytest.raises(OwnerStoppedError):
        stopped.post(lambda c: None)
    with pytest.raises(OwnerStoppedError):
        stopped.read(lambda c: None)
    con.close()
