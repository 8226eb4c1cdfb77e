"""TaskConfig: deterministic encoding, an id that binds every parameter, strict decoding, and
the window batch selector."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from dap_support import ENTRIES, make_task
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.aggregation import BatchMode, Query
from worktally.client.wire.dap.hpke import HpkeKeyPair
from worktally.client.wire.dap.messages import Extension, ReportMetadata
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.dap.window import (
    WINDOW_EXTENSION,
    last_ended,
    query_window,
    report_window,
    window_bounds,
    window_extension,
    window_of,
    window_query,
)
from worktally.client.wire.measurement import ctx
from worktally.client.wire.vdaf import Entry

COLLECTOR = HpkeKeyPair.generate(1)


def test_encoding_is_deterministic_and_the_id_is_its_hash() -> None:
    a, b = make_task(COLLECTOR), make_task(COLLECTOR)
    assert a.encode() == b.encode() and a.task_id == b.task_id
    assert a.task_id == hashlib.sha256(a.encode()).digest()
    assert TaskConfig.decode(a.encode()) == a
    assert a.ctx == b"dap-18" + a.task_id == ctx(a.task_id)


@pytest.mark.parametrize("change", [
    {"cohort": "other"}, {"leader_url": "http://127.0.0.1:1"},
    {"helper_url": "https://helper.example/dap"}, {"window_kind": "month"},
    {"epsilon_release": 4.000001}, {"noise_copies": 2}, {"k_min": 11}, {"roster_cap": 17},
    {"schema_version": 3}, {"entries": (*ENTRIES[:3], Entry(501))}, {"chunk_length": 4},
    {"collector_hpke": HpkeKeyPair.generate(1).config}, {"time_precision": 60},
])
def test_every_parameter_changes_the_task_id(change: dict[str, object]) -> None:
    base = make_task(COLLECTOR)
    changed = make_task(COLLECTOR, **change)
    assert changed.task_id != base.task_id
    assert TaskConfig.decode(changed.encode()) == changed


@pytest.mark.parametrize("change", [
    {"cohort": "bad name"}, {"leader_url": "ftp://x"}, {"helper_url": "http://a b"},
    {"window_kind": "day"}, {"epsilon_release": 0.0}, {"epsilon_release": float("nan")},
    {"epsilon_release": 1e9}, {"noise_copies": 3}, {"k_min": 1}, {"roster_cap": 0},
    {"schema_version": 70000}, {"entries": ()}, {"entries": (Entry(5, gate=0),)},
    {"chunk_length": 0}, {"time_precision": 0},
])
def test_invalid_parameters_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(DapError):
        make_task(COLLECTOR, **change)


def test_non_canonical_or_foreign_encodings_are_refused() -> None:
    raw = make_task(COLLECTOR).encode()
    with pytest.raises(DapError, match="trailing"):
        TaskConfig.decode(raw + b"\x00")
    # The batch mode byte sits after task_info, two URLs and two u64s.
    task = make_task(COLLECTOR)
    pos = 1 + len(task.cohort) + 2 + len(task.leader_url) + 2 + len(task.helper_url) + 16
    assert raw[pos] == BatchMode.WORKTALLY_WINDOW
    foreign = raw[:pos] + bytes([BatchMode.TIME_INTERVAL]) + raw[pos + 1:]
    with pytest.raises(DapError, match="window"):
        TaskConfig.decode(foreign)


def test_the_roster_is_not_part_of_a_new_task() -> None:
    task = make_task(COLLECTOR)
    assert task.roster_cap is None and "roster" not in task.summary()
    # The legacy policy is the same plus a 4-byte roster.
    assert len(make_task(COLLECTOR, roster_cap=16).encode()) == len(task.encode()) + 4


def test_a_legacy_task_keeps_its_encoding_its_id_and_its_roster_cap() -> None:
    legacy = make_task(COLLECTOR, roster_cap=16)
    raw = legacy.encode()
    again = TaskConfig.decode(raw)
    assert again.roster_cap == 16 and again.encode() == raw
    assert again.task_id == hashlib.sha256(raw).digest() != make_task(COLLECTOR).task_id


def test_summary_has_no_secrets_and_names_the_policy() -> None:
    summary = make_task(COLLECTOR, noise_copies=2).summary()
    assert summary["noise"] == "both" and summary["epsilon_per_release"] == 4.0
    assert summary["task_id"] == make_task(COLLECTOR, noise_copies=2).task_id.hex()


@pytest.mark.parametrize(("kind", "label", "start", "end"), [
    ("week", "2026-W48", dt.datetime(2026, 11, 23), dt.datetime(2026, 11, 30)),
    ("week", "2026-W53", dt.datetime(2026, 12, 28), dt.datetime(2027, 1, 4)),
    ("month", "2026-12", dt.datetime(2026, 12, 1), dt.datetime(2027, 1, 1)),
    ("quarter", "2026-Q4", dt.datetime(2026, 10, 1), dt.datetime(2027, 1, 1)),
    ("quarter", "2026-Q1", dt.datetime(2026, 1, 1), dt.datetime(2026, 4, 1)),
])
def test_window_bounds(kind: str, label: str, start: dt.datetime, end: dt.datetime) -> None:
    assert window_bounds(kind, label) == (start.replace(tzinfo=dt.UTC),
                                          end.replace(tzinfo=dt.UTC))
    assert window_of(kind, start.replace(tzinfo=dt.UTC)) == label
    assert window_of(kind, end.replace(tzinfo=dt.UTC) - dt.timedelta(seconds=1)) == label


@pytest.mark.parametrize(("kind", "label"), [
    ("week", "2025-W53"), ("week", "2026-W00"), ("month", "2026-13"), ("month", "2026-1"),
    ("quarter", "2026-Q5"), ("quarter", "2026-11"), ("day", "2026-11-01"), ("month", " 2026-11"),
    ("week", "2026-w48"),
])
def test_bad_window_labels(kind: str, label: str) -> None:
    with pytest.raises(DapError):
        window_bounds(kind, label)


def test_last_ended_window() -> None:
    now = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    assert last_ended("quarter", now) == "2025-Q4"
    assert last_ended("month", now) == "2025-12"
    assert last_ended("week", now) == "2026-W01"


@given(st.sampled_from(["2026-W48", "2026-11", "2026-Q4", "x"]))
def test_window_selector_and_extension_round_trip(label: str) -> None:
    assert query_window(window_query(label)) == label
    meta = ReportMetadata(bytes(16), 1, (window_extension(label),))
    assert report_window(meta) == label


def test_window_selector_refuses_other_modes_and_extensions() -> None:
    with pytest.raises(DapError):
        query_window(Query(BatchMode.TIME_INTERVAL, b""))
    with pytest.raises(DapError):
        query_window(Query(BatchMode.WORKTALLY_WINDOW, b"\x00"))
    with pytest.raises(DapError):
        report_window(ReportMetadata(bytes(16), 1, ()))
    two = (window_extension("2026-Q4"), Extension(WINDOW_EXTENSION + 1, b""))
    with pytest.raises(DapError):
        report_window(ReportMetadata(bytes(16), 1, two))
