"""The draft's Prio3 variants end to end, message encodings, and every rejection path."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vdaf_support import CTX, run, shard, verify

from worktally.client.wire.vdaf import (
    HelperShare,
    LeaderShare,
    Prio3,
    VdafError,
    prio3_count,
    prio3_histogram,
    prio3_multihot_count_vec,
    prio3_sum,
    prio3_sum_vec,
    prio3_sum_vec_with_multiproof,
)


@pytest.mark.parametrize("shares", [2, 3])
def test_every_variant_sums_its_measurements(shares: int) -> None:
    cases: list[tuple[Prio3[Any, Any], list[Any], Any]] = [
        (prio3_count(shares), [1, 0, 1], 2),
        (prio3_sum(1337, shares), [0, 1337, 700], 2037),
        (prio3_sum_vec(3, 255, 2, shares), [[1, 2, 255], [0, 0, 1]], [1, 2, 256]),
        (prio3_histogram(5, 2, shares), [0, 4, 4], [1, 0, 0, 0, 2]),
        (prio3_multihot_count_vec(4, 2, 2, shares), [[True, False, True, False],
                                                    [False, False, False, False]],
         [1, 0, 1, 0]),
        (prio3_sum_vec_with_multiproof(2, 7, 3, 3, shares), [[7, 0], [1, 1]], [8, 1]),
    ]
    for vdaf, measurements, expected in cases:
        assert run(vdaf, measurements) == expected, vdaf


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.integers(0, 1000), min_size=4, max_size=4), min_size=1,
                max_size=3))
def test_sum_vec_is_complete(measurements: list[list[int]]) -> None:
    vdaf = prio3_sum_vec(4, 1000, 3)
    assert run(vdaf, measurements) == [sum(col) for col in zip(*measurements, strict=True)]


@pytest.mark.parametrize(("vdaf", "bad"), [
    (prio3_count(), 2),
    (prio3_count(), "1"),
    (prio3_sum(10), 11),
    (prio3_sum(10), -1),
    (prio3_sum_vec(2, 10, 1), [1]),
    (prio3_sum_vec(2, 10, 1), [1, 11]),
    (prio3_histogram(3, 1), 3),
    (prio3_multihot_count_vec(3, 1, 1), [True, True, False]),
], ids=lambda x: repr(x) if not isinstance(x, Prio3) else x.name)
def test_shard_refuses_invalid_measurements(vdaf: Prio3[Any, Any], bad: Any) -> None:
    with pytest.raises(VdafError, match=r"^shard:"):
        shard(vdaf, bad)


def _invalid_report_is_rejected(vdaf: Prio3[Any, Any], encoded: list[int]) -> None:
    nonce = os.urandom(16)
    public, inputs = vdaf.shard_encoded(CTX, encoded, nonce, os.urandom(vdaf.RAND_SIZE))
    with pytest.raises(VdafError, match=r"verifier_shares_to_message: proof verifier"):
        verify(vdaf, os.urandom(32), nonce, public, inputs)


def test_honest_proofs_of_invalid_encodings_are_rejected() -> None:
    p64 = prio3_count().field.MODULUS
    _invalid_report_is_rejected(prio3_count(), [2])
    _invalid_report_is_rejected(prio3_count(), [p64 - 1])
    _invalid_report_is_rejected(prio3_sum(255), [1, 1, 1, 1, 1, 1, 1, 2])
    _invalid_report_is_rejected(prio3_histogram(4, 2), [1, 1, 0, 0])  # two-hot
    _invalid_report_is_rejected(prio3_histogram(4, 2), [0, 0, 0, 0])  # zero-hot
    # Weight 2 claimed for three set entries.
    _invalid_report_is_rejected(prio3_multihot_count_vec(4, 3, 2), [1, 1, 1, 0, 0, 1])
    _invalid_report_is_rejected(prio3_sum_vec_with_multiproof(1, 3, 1), [2, 0])


def test_messages_round_trip_and_malformed_bytes_raise_vdaf_error() -> None:
    vdaf = prio3_histogram(5, 2)
    nonce, public, inputs = shard(vdaf, 3)
    key = os.urandom(32)
    leader_bytes = vdaf.encode_input_share(inputs[0])
    helper_bytes = vdaf.encode_input_share(inputs[1])
    assert vdaf.decode_input_share(0, leader_bytes) == inputs[0]
    assert vdaf.decode_input_share(1, helper_bytes) == inputs[1]
    assert vdaf.decode_public_share(vdaf.encode_public_share(public)) == public
    state, verifier_share = vdaf.verify_init(key, CTX, 0, None, nonce, public, inputs[0])
    share_bytes = vdaf.encode_verifier_share(verifier_share)
    assert vdaf.decode_verifier_share(share_bytes) == verifier_share
    assert vdaf.decode_verify_state(vdaf.encode_verify_state(state)) == state

    too_big = vdaf.field.MODULUS.to_bytes(16, "little")
    malformed = [
        lambda: vdaf.decode_input_share(0, leader_bytes[:-1]),
        lambda: vdaf.decode_input_share(0, leader_bytes + b"\0"),
        lambda: vdaf.decode_input_share(0, too_big + leader_bytes[16:]),
        lambda: vdaf.decode_input_share(1, leader_bytes),
        lambda: vdaf.decode_input_share(2, helper_bytes),
        lambda: vdaf.decode_public_share(b""),
        lambda: vdaf.decode_verifier_share(share_bytes[:-1]),
        lambda: vdaf.decode_verifier_share(too_big + share_bytes[16:]),
        lambda: vdaf.decode_verifier_message(b"\0" * 31),
        lambda: vdaf.decode_agg_share(b"\0" * 16 * 4),
        lambda: vdaf.decode_out_share(b"\xff" * 16 * 5),
        lambda: vdaf.decode_verify_state(b""),
    ]
    for call in malformed:
        with pytest.raises(VdafError):
            call()
    # Without joint randomness the public share and message are empty, and must be.
    count = prio3_count()
    assert count.encode_public_share(None) == b""
    with pytest.raises(VdafError):
        count.decode_public_share(b"\0")
    with pytest.raises(VdafError):
        count.decode_verifier_message(b"\0")


def test_verify_init_names_its_step_for_misused_arguments() -> None:
    vdaf = prio3_sum_vec(2, 3, 1)
    nonce, public, inputs = shard(vdaf, [1, 2])
    key = os.urandom(32)
    calls = [
        lambda: vdaf.verify_init(key, CTX, 2, None, nonce, public, inputs[0]),
        lambda: vdaf.verify_init(key, CTX, 1, None, nonce, public, inputs[0]),
        lambda: vdaf.verify_init(key, CTX, 0, None, nonce, public, inputs[1]),
        lambda: vdaf.verify_init(key[:-1], CTX, 0, None, nonce, public, inputs[0]),
        lambda: vdaf.verify_init(key, CTX, 0, None, nonce[:-1], public, inputs[0]),
        lambda: vdaf.verify_init(key, CTX, 0, None, nonce, None, inputs[0]),
        lambda: vdaf.verify_init(key, CTX, 1, None, nonce, public,
                                 HelperShare(b"short", None)),
        lambda: vdaf.verify_init(key, CTX, 0, None, nonce, public,
                                 LeaderShare([0], [0], os.urandom(32))),
    ]
    for call in calls:
        with pytest.raises(VdafError, match=r"^verify_init:"):
            call()


def test_a_different_context_or_verify_key_pair_does_not_verify() -> None:
    vdaf = prio3_sum_vec(2, 3, 1)
    nonce, public, inputs = shard(vdaf, [1, 2])
    with pytest.raises(VdafError):
        verify(vdaf, os.urandom(32), nonce, public, inputs, ctx=b"another application")
    # Aggregators disagreeing on the verify key derive different query points.
    key_a, key_b = os.urandom(32), os.urandom(32)
    _, share_a = vdaf.verify_init(key_a, CTX, 0, None, nonce, public, inputs[0])
    _, share_b = vdaf.verify_init(key_b, CTX, 1, None, nonce, public, inputs[1])
    with pytest.raises(VdafError, match="proof verifier check failed"):
        vdaf.verifier_shares_to_message(CTX, None, [share_a, share_b])


def test_noise_can_push_a_total_below_zero_and_unshard_reads_it_signed() -> None:
    vdaf = prio3_sum(100)
    key = os.urandom(32)
    nonce, public, inputs = shard(vdaf, 3)
    outs = verify(vdaf, key, nonce, public, inputs)
    agg = [vdaf.aggregate(None, [out]) for out in outs]
    noised = [vdaf.add_noise(agg[0], [-4]), vdaf.add_noise(agg[1], [-1])]
    assert vdaf.unshard(None, noised, 1, signed=True) == -2
    assert vdaf.unshard(None, noised, 1) == vdaf.field.MODULUS - 2
    assert vdaf.is_valid(None, []) and not vdaf.is_valid(None, [None])


def test_constructor_parameters_are_checked() -> None:
    for make in (lambda: prio3_sum(0), lambda: prio3_histogram(0, 1),
                 lambda: prio3_sum_vec(2, 3, 0), lambda: prio3_count(1),
                 lambda: prio3_multihot_count_vec(2, 3, 1),
                 lambda: prio3_sum_vec_with_multiproof(2, 3, 1, num_proofs=1)):
        with pytest.raises(VdafError):
            make()
