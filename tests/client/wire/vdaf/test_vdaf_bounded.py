"""BoundedVec, worktally's report circuit: completeness, soundness and share privacy."""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vdaf_support import CTX, run, shard, verify

from worktally.client.wire.vdaf import (
    BOUNDED_VEC_ID,
    BoundedVec,
    Entry,
    Field128,
    HelperShare,
    LeaderShare,
    Prio3,
    VdafError,
    VerifierShare,
    best_chunk_length,
    bounded_vec,
)
from worktally.client.wire.vdaf.gadgets import wire_poly_len

# The shape of worktally's weekly report: a flag, two share metrics gated by it, counts.
WORKTALLY = [Entry(1), Entry(20000), Entry(1000, gate=0), Entry(1500), Entry(1000, gate=0),
             Entry(1500), Entry(30), Entry(30), Entry(30), Entry(30)]
IN_RANGE = [1, 12345, 1000, 700, 0, 1500, 0, 30, 29, 1]
P = Field128.MODULUS


def _circuit(vdaf: Prio3[Any, Any]) -> BoundedVec:
    valid = vdaf.flp.valid
    assert isinstance(valid, BoundedVec)
    return valid


def _verify_encoded(vdaf: Prio3[Any, Any], encoded: list[int]) -> list[list[int]]:
    nonce = os.urandom(16)
    public, inputs = vdaf.shard_encoded(CTX, encoded, nonce, os.urandom(vdaf.RAND_SIZE))
    return verify(vdaf, os.urandom(32), nonce, public, inputs)


# --- parameters --------------------------------------------------------------------------


def test_algorithm_id_is_in_the_private_use_range() -> None:
    assert 0xFFFF0000 <= BOUNDED_VEC_ID < 0xFFFFFFFF
    vdaf = bounded_vec(WORKTALLY)
    assert vdaf.ID == BOUNDED_VEC_ID and vdaf.field is Field128 and vdaf.PROOFS == 1
    # One bit-encoding per entry, no complement: 1+15+10+11+10+11+4*5 elements.
    assert vdaf.MEAS_LEN == 78 and vdaf.OUTPUT_LEN == 10


@pytest.mark.parametrize("entries", [
    [],
    [Entry(0)],
    [Entry(2**64)],
    [Entry(5, gate=0)],
    [Entry(5), Entry(5, gate=0)],
    [Entry(1, gate=1), Entry(1, gate=0)],
    [Entry(1), Entry(1, gate=0), Entry(3, gate=1)],
    [Entry(1), Entry(3, gate=7)],
])
def test_bad_entry_lists_are_refused(entries: list[Entry]) -> None:
    with pytest.raises(VdafError):
        bounded_vec(entries)


def test_chunk_length_search_is_never_worse_than_the_square_root() -> None:
    def proof_len(n: int, chunk: int) -> int:
        calls = -(-n // chunk)
        return 2 * chunk + 2 * (wire_poly_len(calls) - 1) + 1

    for n in range(1, 300):
        best = best_chunk_length(n)
        assert proof_len(n, best) <= proof_len(n, max(1, math.isqrt(n)))
        assert proof_len(n, best) == min(proof_len(n, c) for c in range(1, n + 1))


# --- completeness ------------------------------------------------------------------------


@st.composite
def configurations(draw: st.DrawFn) -> tuple[list[Entry], list[list[int]], int | None]:
    """Random entries (flags, gated and plain, in random order) and in-range vectors."""
    n_flags = draw(st.integers(0, 3))
    raw: list[tuple[int, int | None]] = [(1, None)] * n_flags
    for _ in range(draw(st.integers(1, 6))):
        bound = draw(st.one_of(st.integers(1, 2000), st.integers(1, 2**64 - 1)))
        gate = draw(st.integers(0, n_flags - 1)) if n_flags and draw(st.booleans()) else None
        raw.append((bound, gate))
    order = draw(st.permutations(range(len(raw))))
    position = {old: new for new, old in enumerate(order)}
    entries = [Entry(raw[old][0], None if raw[old][1] is None else position[raw[old][1]])
               for old in order]

    def vector() -> list[int]:
        flags = {i: draw(st.integers(0, 1)) for i, e in enumerate(entries)
                 if e.bound == 1 and e.gate is None}
        out = []
        for i, entry in enumerate(entries):
            if i in flags:
                out.append(flags[i])
                continue
            limit = entry.bound * (1 if entry.gate is None else flags[entry.gate])
            out.append(draw(st.one_of(st.just(0), st.just(limit), st.integers(0, limit))))
        return out

    vectors = [vector() for _ in range(draw(st.integers(1, 2)))]
    chunk = draw(st.one_of(st.none(), st.integers(1, 9)))
    return entries, vectors, chunk


@settings(max_examples=60, deadline=None)
@given(configurations())
def test_every_in_range_vector_verifies_and_sums(
        case: tuple[list[Entry], list[list[int]], int | None]) -> None:
    entries, vectors, chunk = case
    vdaf = bounded_vec(entries, chunk)
    expected = [sum(column) for column in zip(*vectors, strict=True)]
    assert run(vdaf, vectors) == expected


def test_worktally_report_batch_with_three_aggregators() -> None:
    vectors = [IN_RANGE, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 20000, 0, 1500, 0, 1500, 30, 30,
                                                          30, 30]]
    expected = [sum(column) for column in zip(*vectors, strict=True)]
    assert run(bounded_vec(WORKTALLY, shares=3), vectors) == expected


def test_small_configuration_accepts_exactly_the_valid_encodings() -> None:
    """Every encoded vector with elements in {0, 1, 2, -1} for [flag, 3 gated, 2]: the
    honest prover's proof verifies iff every ungated element is a bit and the gated bits
    are bits when the flag is 1 and zeros when it is 0."""
    vdaf = bounded_vec([Entry(1), Entry(3, gate=0), Entry(2)])
    assert vdaf.MEAS_LEN == 5
    accepted = 0
    for encoded in itertools.product([0, 1, 2, P - 1], repeat=5):
        flag, g1, g2, b1, b2 = encoded
        valid = (flag in (0, 1) and b1 in (0, 1) and b2 in (0, 1)
                 and all(g in ((0, 1) if flag else (0,)) for g in (g1, g2)))
        try:
            outs = _verify_encoded(vdaf, list(encoded))
        except VdafError as exc:
            assert not valid, (encoded, exc)
            assert "proof verifier check failed" in str(exc)
            continue
        assert valid, encoded
        accepted += 1
        total = [sum(col) % P for col in zip(*outs, strict=True)]
        assert total == [flag, g1 + 2 * g2, b1 + b2]
    assert accepted == 20


# --- soundness ---------------------------------------------------------------------------


def test_the_edge_bound_is_accepted_and_bound_plus_one_rejected() -> None:
    vdaf = bounded_vec(WORKTALLY)
    circuit = _circuit(vdaf)
    at_bound = [e.bound for e in WORKTALLY]
    assert run(vdaf, [at_bound]) == at_bound
    for i, entry in enumerate(WORKTALLY):
        over = list(at_bound)
        over[i] = entry.bound + 1
        with pytest.raises(VdafError, match=r"^shard: entry"):
            shard(vdaf, over)
        # A client skipping the check: the at-bound encoding with its first element 2 decodes
        # to bound + 1 (the first weight is 1).
        forged = circuit.encode(at_bound)
        forged[circuit.offsets[i]] += 1
        assert circuit.truncate(forged)[i] == entry.bound + 1
        with pytest.raises(VdafError, match="proof verifier check failed"):
            _verify_encoded(vdaf, forged)


def test_negative_and_wrapped_values_are_rejected() -> None:
    vdaf = bounded_vec(WORKTALLY)
    circuit = _circuit(vdaf)
    with pytest.raises(VdafError):
        shard(vdaf, [1, -1, 0, 0, 0, 0, 0, 0, 0, 0])
    zero = circuit.encode([1] + [0] * 9)
    for value in (P - 1, 2**64, P // 2):
        forged = list(zero)
        forged[circuit.offsets[3]] = value  # decodes to -1, 2**64, ~p/2
        with pytest.raises(VdafError, match="proof verifier check failed"):
            _verify_encoded(vdaf, forged)


def test_a_gated_value_needs_its_flag() -> None:
    vdaf = bounded_vec(WORKTALLY)
    circuit = _circuit(vdaf)
    no_flag = [0, 5, 1, 0, 0, 0, 0, 0, 0, 0]
    with pytest.raises(VdafError, match="its flag is 0"):
        shard(vdaf, no_flag)
    # Valid bits for the share metric, but the flag bit is 0.
    forged = circuit.encode([1, 5, 1, 0, 0, 0, 0, 0, 0, 0])
    forged[circuit.offsets[0]] = 0
    with pytest.raises(VdafError, match="proof verifier check failed"):
        _verify_encoded(vdaf, forged)
    # A flag of 2 would double the gated range.
    forged = circuit.encode([1, 0, 1000, 0, 0, 0, 0, 0, 0, 0])
    forged[circuit.offsets[0]] = 2
    with pytest.raises(VdafError, match="proof verifier check failed"):
        _verify_encoded(vdaf, forged)


def _bump(vec: list[int], index: int) -> list[int]:
    out = list(vec)
    out[index] = (out[index] + 1) % P
    return out


def test_tampered_shares_proofs_and_joint_randomness_are_rejected() -> None:
    vdaf = bounded_vec(WORKTALLY)
    key = os.urandom(32)
    nonce, public, inputs = shard(vdaf, IN_RANGE)
    leader, helper = inputs
    assert isinstance(leader, LeaderShare) and isinstance(helper, HelperShare)
    assert public is not None
    outs = verify(vdaf, key, nonce, public, inputs)  # the untampered report passes
    assert [(a + b) % P for a, b in zip(*outs, strict=True)] == IN_RANGE

    _, _, other_inputs = shard(vdaf, IN_RANGE)
    other_leader = other_inputs[0]
    assert isinstance(other_leader, LeaderShare)
    tampered: dict[str, tuple[Any, list[Any]]] = {
        "measurement share": (public, [replace(leader, meas_share=_bump(leader.meas_share, 5)),
                                       helper]),
        "proof share": (public, [replace(leader, proofs_share=_bump(leader.proofs_share, 3)),
                                 helper]),
        "gadget polynomial": (public, [replace(leader, proofs_share=_bump(
            leader.proofs_share, len(leader.proofs_share) - 1)), helper]),
        "proof of another report": (public, [replace(leader,
                                                     proofs_share=other_leader.proofs_share),
                                             helper]),
        "helper seed": (public, [leader, replace(helper, share=os.urandom(32))]),
        "leader blind": (public, [replace(leader, blind=os.urandom(32)), helper]),
        "helper blind": (public, [leader, replace(helper, blind=os.urandom(32))]),
        "leader joint rand part": ([os.urandom(32), public[1]], inputs),
        "helper joint rand part": ([public[0], os.urandom(32)], inputs),
        "swapped joint rand parts": ([public[1], public[0]], inputs),
    }
    for what, (bad_public, bad_inputs) in tampered.items():
        with pytest.raises(VdafError, match=r"verifier check failed|joint randomness check"):
            verify(vdaf, key, nonce, bad_public, bad_inputs)
            pytest.fail(f"tampered {what} was accepted")


def test_tampered_verifier_messages_are_rejected() -> None:
    vdaf = bounded_vec(WORKTALLY)
    key = os.urandom(32)
    nonce, public, inputs = shard(vdaf, IN_RANGE)
    results = [vdaf.verify_init(key, CTX, i, None, nonce, public, s)
               for i, s in enumerate(inputs)]
    states = [r[0] for r in results]
    shares = [r[1] for r in results]
    bad_share = VerifierShare(_bump(shares[1].verifiers_share, 0), shares[1].joint_rand_part)
    with pytest.raises(VdafError, match=r"^verifier_shares_to_message: proof verifier"):
        vdaf.verifier_shares_to_message(CTX, None, [shares[0], bad_share])
    bad_part = VerifierShare(shares[1].verifiers_share, os.urandom(32))
    message = vdaf.verifier_shares_to_message(CTX, None, [shares[0], bad_part])
    with pytest.raises(VdafError, match=r"^verify_next: joint randomness check failed"):
        vdaf.verify_next(CTX, states[0], message)
    good = vdaf.verifier_shares_to_message(CTX, None, shares)
    assert vdaf.verify_next(CTX, states[1], good) == states[1].out_share
    with pytest.raises(VdafError, match=r"^verify_next:"):
        vdaf.verify_next(CTX, states[1], bytes(32))


# --- privacy -----------------------------------------------------------------------------


def _chi_square_p_value(counts: list[int]) -> float:
    """Upper tail of chi-square with an even number of degrees of freedom (bins - 1):
    Q(k, x/2) = exp(-x/2) * sum_{i<k} (x/2)**i / i! for k = dof / 2, exact."""
    assert (len(counts) - 1) % 2 == 0
    total = sum(counts)
    expected = total / len(counts)
    stat = sum((c - expected) ** 2 / expected for c in counts)
    half, k = stat / 2, (len(counts) - 1) // 2
    term, acc = 1.0, 1.0
    for i in range(1, k):
        term *= half / i
        acc += term
    return math.exp(-half) * acc


def _ks_distance(samples: list[float]) -> float:
    ordered = sorted(samples)
    n = len(ordered)
    return max(max((i + 1) / n - x, x - i / n) for i, x in enumerate(ordered))


ALPHA = 1e-6
BINS = 17  # 16 degrees of freedom: the closed-form tail above applies


def _uniformity_failures(vectors: list[list[int]]) -> list[str]:
    failures = []
    pooled = [x / P for vec in vectors for x in vec]
    # Kolmogorov-Smirnov: P(D > d) <= 2 exp(-2 n d**2) (Dvoretzky-Kiefer-Wolfowitz).
    threshold = math.sqrt(math.log(2 / ALPHA) / (2 * len(pooled)))
    if _ks_distance(pooled) > threshold:
        failures.append("pooled KS")
    for position in range(len(vectors[0])):
        counts = [0] * BINS
        for vec in vectors:
            counts[vec[position] * BINS // P] += 1
        # Bonferroni over the positions keeps the whole test at about ALPHA.
        if _chi_square_p_value(counts) < ALPHA / len(vectors[0]):
            failures.append(f"position {position}")
    return failures


def test_one_aggregators_share_alone_looks_uniform() -> None:
    """The leader's measurement share (and the helper's expanded one) of the SAME
    measurement, over many reports, is indistinguishable from uniform; the encoded
    measurement itself fails the same test, so the test can fail."""
    vdaf = bounded_vec(WORKTALLY)
    leaders, helpers = [], []
    for _ in range(400):
        _, _, inputs = shard(vdaf, IN_RANGE)
        leader, helper = inputs
        assert isinstance(leader, LeaderShare) and isinstance(helper, HelperShare)
        leaders.append(leader.meas_share)
        helpers.append(vdaf._helper_meas_share(CTX, 1, helper.share))
    assert _uniformity_failures(leaders) == []
    assert _uniformity_failures(helpers) == []
    encoded = _circuit(vdaf).encode(IN_RANGE)
    assert len(_uniformity_failures([encoded] * 400)) == vdaf.MEAS_LEN + 1
