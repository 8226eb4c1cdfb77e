"""Report schema v2: validation and clipping, the ε split, per-entry noise and its inverse."""

from __future__ import annotations

import math
import os

import opendp.prelude as dp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.wire import measurement as wm
from worktally.client.wire.errors import MeasurementError, WireError
from worktally.client.wire.measurement import (
    METRIC_NAMES,
    SECURE_METRICS,
    MetricKind,
    coordinates,
    ctx,
    entry_noise,
    measurement,
    released_coordinates,
    vdaf,
)
from worktally.client.wire.vdaf import VdafError

VALUES = st.fixed_dictionaries({name: st.integers(-10**6, 10**6) for name in METRIC_NAMES})
DRAWS = st.lists(st.integers(-10**9, 10**9), min_size=len(SECURE_METRICS),
                 max_size=len(SECURE_METRICS))
FULL = {m.name: m.bound for m in SECURE_METRICS}


def test_the_schema_keeps_the_names_kinds_and_gates_others_code_against() -> None:
    assert [(m.name, m.kind.value, m.gate) for m in SECURE_METRICS] == [
        ("ai_active", "flag", None),
        ("shipped_token_share_pm", "share", "ai_active"),
        ("no_context_session_share_pm", "share", "ai_active"),
        ("lines_observed", "flag", None),
        ("ai_line_share_pm", "share", "lines_observed"),
        ("ai_tokens_k_per_week", "volume", None),
        ("ai_lines_committed_per_week", "volume", None),
        ("ai_lines_surviving_per_week", "volume", None),
    ]
    assert wm.SCHEMA_VERSION == 2
    assert math.fsum(m.weight for m in SECURE_METRICS) == pytest.approx(1.0)
    for m in SECURE_METRICS:
        assert m.centre == (m.bound // 2 if m.kind is MetricKind.SHARE else 0)


def test_vdaf_has_one_entry_per_metric_with_its_bound_and_gate() -> None:
    prio3 = vdaf()
    assert vdaf() is prio3
    entries = prio3.flp.valid.entries  # type: ignore[attr-defined]
    assert [e.bound for e in entries] == [m.bound for m in SECURE_METRICS]
    assert [e.gate for e in entries] == [None, 0, 0, None, 3, None, None, None]


@given(VALUES)
def test_any_integers_become_a_vector_the_circuit_accepts(values: dict[str, int]) -> None:
    vector = measurement(values)
    vdaf().flp.valid.encode(vector)  # raises VdafError for anything out of range
    for metric, x in zip(SECURE_METRICS, vector, strict=True):
        assert 0 <= x <= metric.bound
    assert measurement(dict(zip(METRIC_NAMES, vector, strict=True))) == vector


def test_clipping_negative_values_and_gates() -> None:
    values = dict(FULL, ai_active=0, shipped_token_share_pm=700, lines_observed=3,
                  ai_line_share_pm=-5, ai_tokens_k_per_week=9_000_000,
                  ai_lines_committed_per_week=-1)
    assert measurement(values) == [0, 0, 0, 1, 0, 5000, 0, 500]
    # A flag of 1 keeps its shares; values above the bound are clipped to it.
    assert measurement(dict(FULL, shipped_token_share_pm=1001)) == [m.bound for m in
                                                                     SECURE_METRICS]
    assert measurement(dict(FULL, ai_active=True))[0] == 1


def test_an_unclipped_vector_is_what_the_circuit_would_reject() -> None:
    with pytest.raises(VdafError):
        vdaf().flp.valid.encode([0, 700, 0, 1, 0, 0, 0, 0])  # a share without its flag


def test_unknown_and_missing_names_are_refused_by_name() -> None:
    with pytest.raises(MeasurementError, match="unknown: sessions_shipped"):
        measurement(dict(FULL, sessions_shipped=3))
    values = dict(FULL)
    del values["ai_line_share_pm"]
    with pytest.raises(MeasurementError, match="missing: ai_line_share_pm"):
        measurement(values)
    with pytest.raises(MeasurementError, match="must be an integer"):
        measurement(dict(FULL, ai_tokens_k_per_week=12.5))  # type: ignore[dict-item]
    assert issubclass(MeasurementError, WireError)


@pytest.mark.parametrize("epsilon", [4.0, 16 / 52, 16 / 12, 0.01])
def test_the_epsilon_split_adds_up_and_opendp_certifies_it(epsilon: float) -> None:
    dp.enable_features("contrib")
    coords = coordinates(epsilon)
    assert [c.metric for c in coords] == list(METRIC_NAMES)
    assert math.fsum(c.epsilon for c in coords) == pytest.approx(epsilon, rel=1e-12)
    certified = 0.0
    for c, metric in zip(coords, SECURE_METRICS, strict=True):
        assert c.sensitivity == metric.bound
        assert c.scale == pytest.approx(c.sensitivity / c.epsilon)
        mechanism = dp.m.make_laplace(dp.atom_domain(T="i64"), dp.absolute_distance(T="i64"),
                                      scale=c.scale)
        certified += float(mechanism.map(c.sensitivity))
    assert certified == pytest.approx(epsilon, rel=1e-9)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_a_bad_epsilon_is_refused(bad: float) -> None:
    with pytest.raises(MeasurementError, match="positive and finite"):
        coordinates(bad)


@given(st.lists(VALUES, min_size=1, max_size=20))
def test_released_coordinates_are_counts_centred_sums_and_sums(people: list[dict[str, int]]
                                                               ) -> None:
    vectors = [measurement(v) for v in people]
    sums = [sum(column) for column in zip(*vectors, strict=True)]
    released = released_coordinates(sums)
    for i, metric in enumerate(SECURE_METRICS):
        if metric.kind is MetricKind.SHARE:
            gate = METRIC_NAMES.index(metric.gate or "")
            expected = sum(v[gate] * (v[i] - metric.centre) for v in vectors)
        else:
            expected = sums[i]
        assert released[i] == expected


@given(st.lists(st.integers(-10**9, 10**9), min_size=len(SECURE_METRICS),
                max_size=len(SECURE_METRICS)), DRAWS)
def test_each_coordinate_carries_exactly_its_own_draw(sums: list[int], draws: list[int]) -> None:
    noisy = [s + e for s, e in zip(sums, entry_noise(draws), strict=True)]
    clean = released_coordinates(sums)
    assert released_coordinates(noisy) == [c + d for c, d in zip(clean, draws, strict=True)]


def test_a_gate_shared_by_two_shares_contributes_one_draw() -> None:
    draws = [7, 0, 0, 0, 0, 0, 0, 0]
    # Only the count draw is non-zero: both shares' entries move by c times that one draw.
    assert entry_noise(draws) == [7, 3500, 3500, 0, 0, 0, 0, 0]
    assert released_coordinates(entry_noise(draws)) == draws


def test_noise_and_sums_must_be_one_integer_per_entry() -> None:
    with pytest.raises(MeasurementError, match="expected 8"):
        entry_noise([1, 2, 3])
    with pytest.raises(MeasurementError, match="integers"):
        released_coordinates([1.5] * len(SECURE_METRICS))  # type: ignore[list-item]


def test_noised_aggregate_through_prio3_decodes_to_noised_coordinates() -> None:
    prio3 = vdaf()
    task_id = os.urandom(32)
    context = ctx(task_id)
    key = os.urandom(prio3.VERIFY_KEY_SIZE)
    people = [dict(FULL, ai_active=1, shipped_token_share_pm=100 * i, lines_observed=i % 2,
                   ai_line_share_pm=300, ai_tokens_k_per_week=40 * i) for i in range(5)]
    vectors = [measurement(p) for p in people]
    agg = [prio3.agg_init(None) for _ in range(prio3.SHARES)]
    for vector in vectors:
        nonce = os.urandom(prio3.NONCE_SIZE)
        public, shares = prio3.shard(context, vector, nonce, os.urandom(prio3.RAND_SIZE))
        states, verifiers = [], []
        for agg_id, share in enumerate(shares):
            state, verifier = prio3.verify_init(key, context, agg_id, None, nonce, public, share)
            states.append(state)
            verifiers.append(verifier)
        message = prio3.verifier_shares_to_message(context, None, verifiers)
        outs = [prio3.verify_next(context, s, message) for s in states]
        agg = [prio3.agg_update(None, a, o) for a, o in zip(agg, outs, strict=True)]
    draws = [-3, -40_000, 900, 2, -7, -123_456, 55, -2]
    agg[1] = prio3.add_noise(agg[1], entry_noise(draws))
    sums = prio3.unshard(None, agg, len(vectors), signed=True)
    clean = released_coordinates([sum(c) for c in zip(*vectors, strict=True)])
    assert released_coordinates(sums) == [c + d for c, d in zip(clean, draws, strict=True)]


def test_ctx_is_dap_prefix_and_task_id() -> None:
    task_id = bytes(range(32))
    assert ctx(task_id) == b"dap-18" + task_id
    with pytest.raises(MeasurementError, match="32 bytes"):
        ctx(b"short")
