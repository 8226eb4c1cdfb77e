"""BoundedVec: worktally's report, a vector with a bound per entry and gated entries.

Entry i holds an integer x_i with 0 <= x_i <= bound_i * (x_gate if gated else 1): a
"gated" entry (a share metric) must be 0 when its flag entry is 0 and may be anything in
[0, bound_i] when the flag is 1. A flag is an ungated entry with bound 1.

Encoding (chosen over "bits of x plus bits of bound - x", which doubles the length and
needs an extra linear check): each entry is the draft's range-checked bit encoding of x_i
(`encode_range_checked_int`, bit_length(bound_i) elements whose weights 1, 2, ...,
2**(b-2), bound_i - (2**(b-1) - 1) sum to exactly bound_i). Then

* an ungated element m must satisfy m * (m - 1) == 0, i.e. be a bit, and
* an element m of an entry gated by flag g must satisfy m * (m - g) == 0: for g == 1 it is
  a bit, for g == 0 it is zero (m**2 == 0 has only the root 0 in a field).

Both are checked by one ParallelSum(Mul) range check with joint randomness, exactly as
SumVec checks bits; only the second Mul operand changes (m - 1/num_shares, or m - g where
g is the aggregator's share of the flag bit, which already sums to g). Since every flag is
itself checked to be a bit, a valid encoding decodes to a weighted sum of bits in
[0, bound_i], and to 0 when the flag is 0: the semantics above, with no extra circuit
output.

No wrap-around: weights are positive and sum to bound_i < 2**64, far below the Field128
modulus (~2**128), so the decoded x_i of an accepted report is the true integer. An
aggregate of n reports is exact while n * max(bound) plus the aggregators' noise stays
below p/2 (about 2**127), i.e. for any realistic n; `Prio3.unshard(..., signed=True)` then
reads a total pushed below zero by noise as a negative number.

Parameters: Field128 with one proof, as the draft requires for circuits with joint
randomness (Field64 would need three proofs). Algorithm id BOUNDED_VEC_ID = 0xFFFF5754
("WT"), in the draft's "Reserved for Private Use" range 0xFFFF0000-0xFFFFFFFF (0xFFFFFFFF
is taken by the draft's multiproof test vectors). The id does not cover the entry list, so
deployments must bind the report schema (entries) into the application context `ctx`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worktally.client.wire.vdaf.circuits import (
    Valid,
    chunk_calls,
    decode_range_checked_int,
    encode_range_checked_int,
    parallel_range_check,
    range_check_weights,
)
from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field, Field128
from worktally.client.wire.vdaf.gadgets import Gadget, Mul, ParallelSum, wire_poly_len
from worktally.client.wire.vdaf.prio3 import Prio3

BOUNDED_VEC_ID = 0xFFFF5754
MAX_BOUND_BITS = 64


@dataclass(frozen=True)
class Entry:
    """One metric: 0 <= x <= bound, or 0 <= x <= bound * x[gate] for a gated entry."""

    bound: int
    gate: int | None = None


def best_chunk_length(meas_len: int) -> int:
    """The ParallelSum chunk length giving the shortest proof for `meas_len` elements.

    The draft recommends about sqrt(meas_len) but notes the rounding of the call count to a
    power of two makes the optimum a matter of trial; the search is cheap, so do it. Ties
    go to the shorter chunk (a smaller verifier message).
    """
    if meas_len < 1:
        raise VdafError("measurement length must be at least 1")

    def proof_len(chunk: int) -> int:
        return 2 * chunk + 2 * (wire_poly_len(chunk_calls(meas_len, chunk)) - 1) + 1

    return min(range(1, meas_len + 1), key=lambda c: (proof_len(c), c))


class BoundedVec(Valid[list[int], list[int]]):
    """Validity circuit for a vector of per-entry bounded, optionally gated integers."""

    def __init__(self, field: Field, entries: Sequence[Entry],
                 chunk_length: int | None = None) -> None:
        entries = list(entries)
        if not entries:
            raise VdafError("BoundedVec needs at least one entry")
        for i, entry in enumerate(entries):
            if not isinstance(entry.bound, int) or isinstance(entry.bound, bool) \
                    or not 1 <= entry.bound < 2**MAX_BOUND_BITS:
                raise VdafError(f"entry {i}: bound must be an integer in [1, 2**64)")
            if entry.gate is not None:
                if not 0 <= entry.gate < len(entries) or entry.gate == i:
                    raise VdafError(f"entry {i}: gate must be the index of another entry")
                flag = entries[entry.gate]
                if flag.bound != 1 or flag.gate is not None:
                    raise VdafError(f"entry {i}: its gate must be an ungated entry with "
                                    "bound 1")
        if field.MODULUS < 2**(MAX_BOUND_BITS + 32):
            raise VdafError("BoundedVec needs a field far larger than its bounds")
        self.field = field
        self.entries = entries
        self.weights = [range_check_weights(e.bound) for e in entries]
        self.offsets: list[int] = []
        offset = 0
        for w in self.weights:
            self.offsets.append(offset)
            offset += len(w)
        meas_len = offset
        self.chunk_length = chunk_length or best_chunk_length(meas_len)
        calls = chunk_calls(meas_len, self.chunk_length)
        # For each encoded element: None (ungated: compare with 1) or the position of the
        # flag bit it is compared with.
        self._gate_positions: list[int | None] = []
        for entry, w in zip(entries, self.weights, strict=True):
            gate_pos = None if entry.gate is None else self.offsets[entry.gate]
            self._gate_positions += [gate_pos] * len(w)
        self.GADGETS = [ParallelSum(Mul(), self.chunk_length)]
        self.GADGET_CALLS = [calls]
        self.MEAS_LEN = meas_len
        self.JOINT_RAND_LEN = calls
        self.OUTPUT_LEN = len(entries)
        self.EVAL_OUTPUT_LEN = 1

    def encode(self, measurement: list[int]) -> list[int]:
        if not isinstance(measurement, list | tuple) or len(measurement) != len(self.entries):
            raise VdafError(f"measurement must be a list of {len(self.entries)} integers")
        for i, x in enumerate(measurement):
            if not isinstance(x, int) or isinstance(x, bool):
                raise VdafError(f"entry {i} must be an integer")
        encoded: list[int] = []
        for i, (entry, x) in enumerate(zip(self.entries, measurement, strict=True)):
            limit = entry.bound if entry.gate is None else entry.bound * measurement[entry.gate]
            if not 0 <= x <= limit:
                why = " (its flag is 0)" if entry.gate is not None and limit == 0 else ""
                raise VdafError(f"entry {i} = {x} is outside [0, {limit}]{why}")
            encoded += encode_range_checked_int(x, entry.bound)
        return encoded

    def eval(self, meas: list[int], joint_rand: list[int], num_shares: int,
             gadgets: Sequence[Gadget] | None = None) -> list[int]:
        shares_inv = self.field.inv(num_shares)
        subtrahends = [shares_inv if pos is None else meas[pos]
                       for pos in self._gate_positions]
        check = parallel_range_check(self.field, (gadgets or self.GADGETS)[0], meas,
                                     subtrahends, joint_rand, self.chunk_length,
                                     self.GADGET_CALLS[0], shares_inv)
        return [check]

    def truncate(self, meas: list[int]) -> list[int]:
        return [decode_range_checked_int(self.field, meas[o:o + len(w)], w)
                for o, w in zip(self.offsets, self.weights, strict=True)]

    def decode(self, output: list[int], num_measurements: int) -> list[int]:
        return list(output)


def bounded_vec(entries: Sequence[Entry], chunk_length: int | None = None,
                shares: int = 2) -> Prio3[list[int], list[int]]:
    """Prio3 over BoundedVec: Field128, one proof, algorithm id BOUNDED_VEC_ID."""
    return Prio3(BoundedVec(Field128, entries, chunk_length), algorithm_id=BOUNDED_VEC_ID,
                 name="Prio3BoundedVec", shares=shares)
