"""Untrusted bytes: decoders and verification raise VdafError or succeed, nothing else;
and the XOF's rejection sampling, which the published vectors never reach."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vdaf_support import CTX, shard

from worktally.client.wire.vdaf import (
    Entry,
    Field64,
    Prio3,
    VdafError,
    bounded_vec,
    prio3_count,
    prio3_histogram,
)
from worktally.client.wire.vdaf.xof import Xof

VDAFS: list[Prio3[Any, Any]] = [prio3_count(), prio3_histogram(4, 2),
                                bounded_vec([Entry(1), Entry(30, gate=0), Entry(7)])]


def _sizes(vdaf: Prio3[Any, Any]) -> list[int]:
    _, public, inputs = shard(vdaf, _valid_measurement(vdaf))
    return [len(vdaf.encode_input_share(inputs[0])), len(vdaf.encode_input_share(inputs[1])),
            len(vdaf.encode_public_share(public))]


def _valid_measurement(vdaf: Prio3[Any, Any]) -> Any:
    return {"Prio3Count": 1, "Prio3Histogram": 2}.get(vdaf.name, [1, 3, 7])


def _bytes_near(length: int) -> st.SearchStrategy[bytes]:
    # Mostly the right length (so decoding gets past the length check), sometimes not.
    return st.one_of(st.binary(min_size=length, max_size=length),
                     st.binary(max_size=length + 40))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(VDAFS))), st.data())
def test_random_reports_are_rejected_cleanly(which: int, data: st.DataObject) -> None:
    vdaf = VDAFS[which]
    leader_len, helper_len, public_len = _sizes(vdaf)
    leader_bytes = data.draw(_bytes_near(leader_len))
    helper_bytes = data.draw(_bytes_near(helper_len))
    public_bytes = data.draw(_bytes_near(public_len))
    nonce = data.draw(st.binary(min_size=15, max_size=17))
    key = os.urandom(32)
    try:
        public = vdaf.decode_public_share(public_bytes)
        leader = vdaf.decode_input_share(0, leader_bytes)
        helper = vdaf.decode_input_share(1, helper_bytes)
        a_state, a = vdaf.verify_init(key, CTX, 0, None, nonce, public, leader)
        b_state, b = vdaf.verify_init(key, CTX, 1, None, nonce, public, helper)
        message = vdaf.verifier_shares_to_message(CTX, None, [a, b])
        vdaf.verify_next(CTX, a_state, message)
        vdaf.verify_next(CTX, b_state, message)
    except VdafError:
        return
    raise AssertionError("a random report was accepted")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(len(VDAFS))), st.binary(max_size=600))
def test_every_decoder_takes_any_bytes(which: int, blob: bytes) -> None:
    vdaf = VDAFS[which]
    decoders = [lambda: vdaf.decode_public_share(blob), lambda: vdaf.decode_input_share(0, blob),
                lambda: vdaf.decode_input_share(1, blob), lambda: vdaf.decode_verifier_share(blob),
                lambda: vdaf.decode_verifier_message(blob), lambda: vdaf.decode_agg_share(blob),
                lambda: vdaf.decode_out_share(blob), lambda: vdaf.decode_verify_state(blob)]
    for decode in decoders:
        try:
            decode()
        except VdafError:
            pass


class _Scripted(Xof):
    """An XOF whose stream is given bytes, to reach the rejection branch."""

    SEED_SIZE = 16

    def __init__(self, seed: bytes, dst: bytes, binder: bytes) -> None:
        self.stream, self.pos = binder, 0

    def next(self, length: int) -> bytes:
        out = self.stream[self.pos:self.pos + length]
        self.pos += length
        return out


def test_next_vec_skips_candidates_above_the_modulus_in_stream_order() -> None:
    p = Field64.MODULUS
    candidates = [5, p, 2**64 - 1, 7, p - 1, p + 3, 9, 11]
    stream = b"".join(c.to_bytes(8, "little") for c in candidates)
    assert _Scripted(b"", b"", stream).next_vec(Field64, 4) == [5, 7, p - 1, 9]
    assert _Scripted(b"", b"", stream).next_vec(Field64, 1) == [5]
    assert _Scripted(b"", b"", stream).next_vec(Field64, 5) == [5, 7, p - 1, 9, 11]
