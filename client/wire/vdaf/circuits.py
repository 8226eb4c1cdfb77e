"""Validity circuits of the draft's Prio3 variants: Count, Sum, SumVec, Histogram and
MultihotCountVec, plus the `Valid` interface and the range-check helpers they share.

A circuit evaluates to all zeros exactly on valid encoded measurements. It is affine apart
from its gadget calls, so an aggregator can run it on a secret share; constants added in
the circuit are scaled by 1/num_shares so the shares' outputs still add up.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field
from worktally.client.wire.vdaf.gadgets import (
    Gadget,
    Mul,
    ParallelSum,
    PolyEval,
    gadget_poly_len,
    wire_poly_len,
)

_mul = operator.mul
M = TypeVar("M")  # measurement type
R = TypeVar("R")  # aggregate result type


class Valid(ABC, Generic[M, R]):
    """A validity circuit plus the measurement encoding it checks (draft's `Valid`)."""

    field: Field
    GADGETS: list[Gadget]
    GADGET_CALLS: list[int]
    MEAS_LEN: int
    JOINT_RAND_LEN: int
    EVAL_OUTPUT_LEN: int
    OUTPUT_LEN: int

    @abstractmethod
    def encode(self, measurement: M) -> list[int]:
        """The encoded measurement (MEAS_LEN elements); VdafError if out of range."""

    @abstractmethod
    def eval(self, meas: list[int], joint_rand: list[int], num_shares: int,
             gadgets: Sequence[Gadget] | None = None) -> list[int]:
        """The circuit output (EVAL_OUTPUT_LEN elements), using `gadgets` (the FLP's
        shims) in place of GADGETS when given."""

    @abstractmethod
    def truncate(self, meas: list[int]) -> list[int]:
        """The aggregatable output (OUTPUT_LEN elements) of an encoded measurement."""

    @abstractmethod
    def decode(self, output: list[int], num_measurements: int) -> R:
        """The aggregate result from the sum of the output shares."""

    def prove_rand_len(self) -> int:
        return sum(g.ARITY for g in self.GADGETS)

    def query_rand_len(self) -> int:
        extra = self.EVAL_OUTPUT_LEN if self.EVAL_OUTPUT_LEN > 1 else 0
        return len(self.GADGETS) + extra

    def proof_len(self) -> int:
        return sum(g.ARITY + gadget_poly_len(g.DEGREE, wire_poly_len(calls))
                   for g, calls in zip(self.GADGETS, self.GADGET_CALLS, strict=True))

    def verifier_len(self) -> int:
        return 1 + sum(g.ARITY + 1 for g in self.GADGETS)


# --- shared helpers ---------------------------------------------------------------------


def _int_value(value: object, what: str) -> int:
    # bool is accepted as 0/1 (MultihotCountVec measurements are booleans).
    if not isinstance(value, int):
        raise VdafError(f"{what} must be an integer, not {type(value).__name__}")
    return int(value)


def range_check_weights(max_measurement: int) -> list[int]:
    """Weights 1, 2, 4, ..., 2**(bits-2), last: they sum to max_measurement, so every 0/1
    vector decodes into [0, max_measurement] and every value there has an encoding."""
    if max_measurement < 1:
        raise VdafError("max_measurement must be at least 1")
    bits = max_measurement.bit_length()
    rest_all_ones = 2 ** (bits - 1) - 1
    return [1 << i for i in range(bits - 1)] + [max_measurement - rest_all_ones]


def encode_range_checked_int(value: int, max_measurement: int) -> list[int]:
    """The draft's bit encoding of value in [0, max_measurement] (bit_length elements)."""
    if not 0 <= value <= max_measurement:
        raise VdafError(f"measurement {value} is outside [0, {max_measurement}]")
    bits = max_measurement.bit_length()
    rest_all_ones = 2 ** (bits - 1) - 1
    if value <= rest_all_ones:
        rest, last = value, 0
    else:
        rest, last = value - (max_measurement - rest_all_ones), 1
    return [(rest >> i) & 1 for i in range(bits - 1)] + [last]


def decode_range_checked_int(field: Field, encoded: Sequence[int], weights: list[int]) -> int:
    """Weighted sum of the (shares of) bits; linear, so it works on shares too."""
    return sum(map(_mul, weights, encoded)) % field.MODULUS


def parallel_range_check(field: Field, gadget: Gadget, meas: list[int],
                         subtrahends: list[int], joint_rand: list[int], chunk_length: int,
                         calls: int, shares_inv: int) -> int:
    """sum_i r_c**(j+1) * m_i * (m_i - s_i) over ParallelSum(Mul) calls c, chunked.

    Element i of call c sits at position j = i - c*chunk_length. With s_i = 1 (scaled to
    1/num_shares for shares) this is zero iff every m_i is a bit, except with probability
    about chunk_length/|F| per call. Padding past the measurement is (0, -1/num_shares),
    as the draft writes it, so the recorded wires match the test vectors.
    """
    p = field.MODULUS
    out = 0
    pad = -shares_inv % p
    for c in range(calls):
        r = joint_rand[c]
        powers = [r] * chunk_length
        for j in range(1, chunk_length):
            powers[j] = powers[j - 1] * r % p
        chunk = meas[c * chunk_length:(c + 1) * chunk_length]
        subs = subtrahends[c * chunk_length:(c + 1) * chunk_length]
        # Gadget inputs interleave (r**(j+1) * m, m - s) per element; padding is (0, -s).
        inputs = [0, pad] * chunk_length
        inputs[0:2 * len(chunk):2] = [x * y % p for x, y in zip(powers, chunk, strict=False)]
        inputs[1:2 * len(chunk):2] = [(x - y) % p for x, y in zip(chunk, subs, strict=True)]
        out += gadget.eval(field, inputs)
    return out % p


def chunk_calls(meas_len: int, chunk_length: int) -> int:
    if chunk_length < 1:
        raise VdafError("chunk_length must be at least 1")
    return (meas_len + chunk_length - 1) // chunk_length


class _ChunkedBits(Valid[M, R]):
    """Common part of the circuits that range-check bits with ParallelSum(Mul)."""

    chunk_length: int

    def _setup(self, field: Field, meas_len: int, chunk_length: int) -> None:
        self.field = field
        self.chunk_length = chunk_length
        calls = chunk_calls(meas_len, chunk_length)
        self.GADGETS = [ParallelSum(Mul(), chunk_length)]
        self.GADGET_CALLS = [calls]
        self.MEAS_LEN = meas_len
        self.JOINT_RAND_LEN = calls

    def _bits_check(self, meas: list[int], joint_rand: list[int], num_shares: int,
                    gadgets: Sequence[Gadget] | None) -> tuple[int, int]:
        gadget = (gadgets or self.GADGETS)[0]
        shares_inv = self.field.inv(num_shares)
        check = parallel_range_check(self.field, gadget, meas, [shares_inv] * len(meas),
                                     joint_rand, self.chunk_length, self.GADGET_CALLS[0],
                                     shares_inv)
        return check, shares_inv


# --- the draft's circuits ---------------------------------------------------------------


class Count(Valid[int, int]):
    """A 0/1 counter: x * x - x == 0."""

    def __init__(self, field: Field) -> None:
        self.field = field
        self.GADGETS = [Mul()]
        self.GADGET_CALLS = [1]
        self.MEAS_LEN = 1
        self.JOINT_RAND_LEN = 0
        self.OUTPUT_LEN = 1
        self.EVAL_OUTPUT_LEN = 1

    def encode(self, measurement: int) -> list[int]:
        value = _int_value(measurement, "Count measurement")
        if value not in (0, 1):
            raise VdafError("Count measurement must be 0 or 1")
        return [value]

    def eval(self, meas: list[int], joint_rand: list[int], num_shares: int,
             gadgets: Sequence[Gadget] | None = None) -> list[int]:
        squared = (gadgets or self.GADGETS)[0].eval(self.field, [meas[0], meas[0]])
        return [(squared - meas[0]) % self.field.MODULUS]

    def truncate(self, meas: list[int]) -> list[int]:
        return list(meas)

    def decode(self, output: list[int], num_measurements: int) -> int:
        return output[0]


class Sum(Valid[int, int]):
    """An integer in [0, max_measurement], bit-encoded; PolyEval(x**2 - x) per bit."""

    def __init__(self, field: Field, max_measurement: int) -> None:
        self.field = field
        self.max_measurement = max_measurement
        self.weights = range_check_weights(max_measurement)
        self.bits = len(self.weights)
        self.GADGETS = [PolyEval([0, -1, 1], self.bits)]
        self.GADGET_CALLS = [self.bits]
        self.MEAS_LEN = self.bits
        self.JOINT_RAND_LEN = 0
        self.OUTPUT_LEN = 1
        self.EVAL_OUTPUT_LEN = self.bits

    def encode(self, measurement: int) -> list[int]:
        return encode_range_checked_int(_int_value(measurement, "Sum measurement"),
                                        self.max_measurement)

    def eval(self, meas: list[int], joint_rand: list[int], num_shares: int,
             gadgets: Sequence[Gadget] | None = None) -> list[int]:
        gadget = (gadgets or self.GADGETS)[0]
        return [gadget.eval(self.field, [b]) for b in meas]

    def truncate(self, meas: list[int]) -> list[int]:
        return [decode_range_checked_int(self.field, meas, self.weights)]

    def decode(self, output: list[int], num_measurements: int) -> int:
        return output[0]


class SumVec(_ChunkedBits[list[int], list[int]]):
    """A vector of `length` integers, each in [0, max_measurement]."""

    def __init__(self, field: Field, length: int, max_measurement: int,
                 chunk_length: int) -> None:
        if length < 1:
            raise VdafError("length must be at least 1")
        self.length = length
        self.max_measurement = max_measurement
        self.weights = range_check_weights(max_measurement)
        self.bits = len(self.weights)
        self._setup(field, length * self.bits, chunk_length)
        self.OUTPUT_LEN = length
        self.EVAL_OUTPUT_LEN = 1

    def encode(self, measurement: list[int]) -> list[int]:
        if not isinstance(measurement, list | tuple) or len(measurement) != self.length:
            raise VdafError(f"SumVec measurement must be a list of {self.length} integers")
        encoded: list[int] = []
        for value in measurement:
            encoded += encode_range_checked_int(_int_value(value, "SumVec element"),
                                                self.max_measurement)
        return encoded

    def eval(self, meas: list[int], joint_rand: list[int], num_shares: int,
             gadgets: Sequence[Gadget] | None = None) -> list[int]:
        return [self._bits_check(meas, joint_rand, num_shares, gadgets)[0]]

    def truncate(self, meas: list[int]) -> list[int]:
        b = self.bits
        return [decode_range_checked_int(self.field, meas[i * b:(i + 1) * b], self.weights)
                for i in range(self.length)]

    def decode(self, output: list[int], num_measurements: int) -> list[int]:
        return list(output)


class Histogram(_ChunkedBits[int, list[int]]):
    """One bucket index in [0, length): a one-hot vector (bits that sum to one)."""

    def __init__(self, field: Field, length: int, chunk_length: int) -> None:
        if length < 1:
            raise VdafError("length must be at least 1")
        self.length = length
        self._setup(field, length, chunk_length)
        self.OUTPUT_LEN = length
        self.EVAL_OUTPUT_LEN = 2

    def encode(self, measurement: int) -> list[int]:
        index = _int_value(measurement, "Histogram measurement")
        if not 0 <= index < self.length:
            raise VdafError(f"bucket {index} is outside [0, {self.length})")
        encoded = [0] * self.length
        encoded[index] = 1
        return encoded

    def eval(self, meas: list[int], joint_rand: list[int], num_shares: int,
             gadgets: Sequence[Gadget] | None = None) -> list[int]:
        range_check, shares_inv = self._bits_check(meas, joint_rand, num_shares, gadgets)
        sum_check = (sum(meas) - shares_inv) % self.field.MODULUS
        return [range_check, sum_check]

    def truncate(self, meas: list[int]) -> list[int]:
        return list(meas)

    def decode(self, output: list[int], num_measurements: int) -> list[int]:
        return list(output)


class MultihotCountVec(_ChunkedBits[list[bool], list[int]]):
    """`length` booleans of which at most `max_weight` are true."""

    def __init__(self, field: Field, length: int, max_weight: int,
                 chunk_length: int) -> None:
        if length < 1 or not 0 < max_weight <= length:
            raise VdafError("need length >= 1 and 0 < max_weight <= length")
        if length >= field.MODULUS:
            raise VdafError("length is too large for the field")
        self.length = length
        self.max_weight = max_weight
        self.weights = range_check_weights(max_weight)
        self._setup(field, length + len(self.weights), chunk_length)
        self.OUTPUT_LEN = length
        self.EVAL_OUTPUT_LEN = 2

    def encode(self, measurement: list[bool]) -> list[int]:
        if not isinstance(measurement, list | tuple) or len(measurement) != self.length:
            raise VdafError(f"measurement must be a list of {self.length} booleans")
        counts = [_int_value(x, "MultihotCountVec entry") for x in measurement]
        if any(c not in (0, 1) for c in counts):
            raise VdafError("MultihotCountVec entries must be 0/1")
        return counts + encode_range_checked_int(sum(counts), self.max_weight)

    def eval(self, meas: list[int], joint_rand: list[int], num_shares: int,
             gadgets: Sequence[Gadget] | None = None) -> list[int]:
        range_check, _ = self._bits_check(meas, joint_rand, num_shares, gadgets)
        weight = sum(meas[:self.length])
        reported = decode_range_checked_int(self.field, meas[self.length:], self.weights)
        return [range_check, (weight - reported) % self.field.MODULUS]

    def truncate(self, meas: list[int]) -> list[int]:
        return list(meas[:self.length])

    def decode(self, output: list[int], num_measurements: int) -> list[int]:
        return list(output)
