"""Spool and drain: replay is a no-op, event ids are idempotent, corrupt batches are quarantined."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worktally.client.capture import records
from worktally.client.capture.records import EditEvent, RepoRegistration
from worktally.client.capture.spool import Backlog, Batch, Spool
from worktally.client.store import db
from worktally.client.store.drain import drain


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


@pytest.fixture
def con(tmp_path):
    connection = db.connect(tmp_path / "spool-test.duckdb")
    yield connection
    connection.close()


def _edit(keys: tuple[int, ...], source: str = "typed", **kw: object) -> EditEvent:
    return EditEvent(source=source, keys=keys, file_id="f1", line_count=len(keys), **kw)


def _counts(con) -> tuple[int, int]:
    edits = con.execute("SELECT count(*) FROM edits").fetchone()[0]
    lines = con.execute("SELECT count(*) FROM edit_lines").fetchone()[0]
    return edits, lines


def test_written_batch_is_private_and_reads_back_equal(tmp_path):
    spool = Spool(tmp_path / "s")
    records = [_edit((1, 2)), _edit((3,), source="ai", tool="copilot", kind="completion")]
    path = spool.write(records)
    assert path is not None and path.parent == spool.new
    assert path.stat().st_mode & 0o777 == 0o600
    assert spool.root.stat().st_mode & 0o777 == 0o700
    batch = spool.read(path)
    assert isinstance(batch, Batch)
    assert batch.records == records
    assert list(spool.tmp.iterdir()) == []


def test_drain_stores_each_event_once_and_empties_the_spool(con, tmp_path):
    spool = Spool(tmp_path / "s")
    spool.write([_edit((1, 2, 3)), _edit((4,))])
    spool.write([_edit((5, 6))])
    result = drain(con, spool)
    assert (result.batches, result.records) == (2, 3)
    assert _counts(con) == (3, 6)
    assert spool.pending() == []
    again = drain(con, spool)
    assert again.batches == 0
    assert _counts(con) == (3, 6)


def test_replayed_batch_file_is_skipped(con, tmp_path):
    # A crash between commit and unlink leaves the batch in new/: replaying it must add nothing.
    spool = Spool(tmp_path / "s")
    path = spool.write([_edit((1, 2)), _edit((3, 4))])
    kept = tmp_path / "copy.json"
    shutil.copy(path, kept)
    drain(con, spool)
    shutil.copy(kept, path)
    result = drain(con, spool)
    assert result.skipped_batches == 1 and result.batches == 0
    assert _counts(con) == (2, 4)
    assert spool.pending() == []


def test_same_event_in_a_new_batch_is_not_stored_twice(con, tmp_path):
    spool = Spool(tmp_path / "s")
    event = _edit((7, 8, 9))
    spool.write([event])
    drain(con, spool)
    spool.write([event, _edit((10,))])
    drain(con, spool)
    assert _counts(con) == (2, 4)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps({"version": 99, "batch_id": "x", "records": []}).encode(),
        json.dumps({"version": 1, "batch_id": "x", "records": [{"type": "nope"}]}).encode(),
        json.dumps({"version": 1, "batch_id": "x",
                    "records": [{"type": "edit", "source": "psychic", "keys": [1],
                                 "file_id": "f"}]}).encode(),
        json.dumps({"version": 1, "records": []}).encode(),
        # Well-formed JSON whose values DuckDB could not store: must not wedge the drain.
        json.dumps({"version": 1, "batch_id": "x",
                    "records": [{"type": "edit", "source": "ai", "keys": [1],
                                 "file_id": "f", "line_count": "many"}]}).encode(),
        json.dumps({"version": 1, "batch_id": "x",
                    "records": [{"type": "edit", "source": "ai", "keys": [2**64],
                                 "file_id": "f"}]}).encode(),
        json.dumps({"version": 1, "batch_id": "x", "records": {"type": "edit"}}).encode(),
        b"[" * 100_000,
    ],
)
def test_corrupt_batch_is_quarantined_and_others_still_drain(con, tmp_path, body):
    spool = Spool(tmp_path / "s")
    spool.write([_edit((1, 2))])
    bad = spool.new / "00000000000000000000-corrupt.json"
    bad.write_bytes(body)
    result = drain(con, spool)
    assert result.quarantined == 1
    assert result.batches == 1
    assert (spool.bad / bad.name).read_bytes() == body
    assert spool.pending() == []
    assert _counts(con) == (1, 2)


def test_groups_of_batches_keep_exactly_once(con, tmp_path, monkeypatch):
    # Several batches share one transaction; a replayed one inside a group is still skipped.
    from worktally.client.store import drain as drain_module

    monkeypatch.setattr(drain_module, "GROUP_RECORDS", 3)
    spool = Spool(tmp_path / "s")
    first = spool.write([_edit((1,)), _edit((2,))])
    kept = first.read_bytes()
    spool.write([_edit((3,)), _edit((4,))])
    assert drain(con, spool).batches == 2
    first.write_bytes(kept)
    for n in range(5):
        spool.write([_edit((10 + n,), source="ai", tool=f"t{n % 2}")])
    result = drain(con, spool)
    assert (result.batches, result.skipped_batches) == (5, 1)
    assert _counts(con) == (9, 9)
    tools = con.execute("SELECT tool, count(*) FROM edit_lines WHERE source = 'ai' "
                        "GROUP BY tool ORDER BY tool").fetchall()
    assert tools == [("t0", 3), ("t1", 2)]


@pytest.mark.parametrize(
    "session",
    [
        # Parses (from_dict does not check types) but violates a NOT NULL column.
        {"type": "ai_session", "session_id": "s1", "tool": None, "kind": "agent",
         "repo_id": None, "started_at": 1.7e9, "ended_at": 1.7e9},
        # A time no datetime can hold.
        {"type": "ai_session", "session_id": "s2", "tool": "codex", "kind": "agent",
         "repo_id": None, "started_at": 1e20, "ended_at": 1e20},
    ],
)
def test_batch_the_database_rejects_is_quarantined_not_retried_forever(con, tmp_path, session):
    spool = Spool(tmp_path / "s")
    spool.write([_edit((1,))])
    poison = spool.new / "00000000000000000001-poison.json"
    poison.write_text(json.dumps({"version": 1, "batch_id": "poison", "records": [session]}))
    spool.write([_edit((2,))])
    result = drain(con, spool)
    assert (result.batches, result.quarantined) == (2, 1)
    assert (spool.bad / poison.name).exists()
    assert spool.pending() == []
    assert _counts(con) == (2, 2)
    assert con.execute("SELECT count(*) FROM ai_sessions").fetchone()[0] == 0


def test_edit_without_keys_is_stored_without_lines(con, tmp_path):
    spool = Spool(tmp_path / "s")
    spool.write([_edit(()), _edit((5, 6))])
    drain(con, spool)
    assert _counts(con) == (2, 2)


def test_registration_is_reported_even_when_its_batch_was_stored_before(con, tmp_path):
    spool = Spool(tmp_path / "s")
    path = spool.write([RepoRegistration(path="/some/work/tree")])
    kept = path.read_bytes()
    seen: list[str] = []
    drain(con, spool, on_registration=seen.append)
    path.write_bytes(kept)
    drain(con, spool, on_registration=seen.append)
    assert seen == ["/some/work/tree", "/some/work/tree"]


_keys = st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=6)
_event = st.builds(
    EditEvent,
    source=st.sampled_from(records.SOURCES),
    keys=_keys.map(tuple),
    file_id=st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    repo_id=st.none() | st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    language=st.sampled_from(["", "python", "rust"]),
    line_count=st.integers(min_value=0, max_value=500),
    ts=st.floats(min_value=1e9, max_value=2e9),
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_event, min_size=1, max_size=8), min_size=1, max_size=4))
def test_any_batches_drain_to_exactly_their_events(con, tmp_path, batches):
    spool = Spool(tmp_path / "hyp")
    before_edits, before_lines = _counts(con)
    written = [spool.write(b) for b in batches]
    assert all(p is not None for p in written)
    # Re-reading gives back exactly what was written (the spool's JSON round trip).
    assert [spool.read(p).records for p in written] == batches
    result = drain(con, spool)
    unique = {e.event_id: e for b in batches for e in b}
    assert result.batches == len(batches)
    assert _counts(con) == (
        before_edits + len(unique),
        before_lines + sum(len(e.keys) for e in unique.values()),
    )
    stored = con.execute(
        "SELECT sum(line_count) FROM edits WHERE event_id IN (SELECT unnest(?))",
        [list(unique)],
    ).fetchone()[0]
    assert stored == sum(e.line_count for e in unique.values())


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_drain_or_vanish(con, tmp_path, body):
    spool = Spool(tmp_path / "junk")
    target = spool.new / "00000000000000000001-junk.json"
    target.write_bytes(body)
    result = drain(con, spool)
    assert spool.pending() == []
    if result.quarantined:
        assert (spool.bad / target.name).read_bytes() == body
        (spool.bad / target.name).unlink()
    else:
        assert result.batches + result.skipped_batches == 1


def test_backlog_counts_batches_records_and_lines_without_the_database(tmp_path):
    spool = Spool(tmp_path / "s")
    assert spool.backlog() == Backlog(0, 0, 0, True)
    spool.write([_edit((1, 2, 3)), RepoRegistration(path="/somewhere")])
    spool.write([_edit((4,), source="ai", tool="copilot", kind="completion")])
    (spool.new / "zz-corrupt.json").write_bytes(b"{not json")
    assert spool.backlog() == Backlog(batches=3, records=3, edit_lines=4, complete=True)
    # A byte budget smaller than the backlog: lower bounds, said so.
    first = spool.pending()[0].stat().st_size
    partial = spool.backlog(max_bytes=first)
    assert (partial.batches, partial.records, partial.complete) == (3, 2, False)


def test_backlog_reads_each_batch_once_with_a_cache(tmp_path):
    spool = Spool(tmp_path / "s")
    spool.write([_edit((1, 2))])
    cache: dict[str, tuple[int, int]] = {}
    assert spool.backlog(cache=cache) == Backlog(1, 1, 2, True)
    # A batch already counted costs no bytes: a zero budget still covers it.
    spool.write([_edit((3,))])
    assert spool.backlog(max_bytes=0, cache=cache) == Backlog(2, 1, 2, False)
    assert spool.backlog(cache=cache) == Backlog(2, 2, 3, True)
    for path in spool.pending()[:1]:
        path.unlink()
    assert spool.backlog(cache=cache) == Backlog(1, 1, 1, True)
    assert len(cache) == 1
