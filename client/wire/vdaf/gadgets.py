"""FLP gadgets (Mul, PolyEval, ParallelSum) and the prover/query shims that wrap them.

A gadget is the non-affine part of a validity circuit. The circuit calls it on field
elements; the FLP also needs it evaluated on polynomials (Lagrange basis, see
`polynomial.py`) to build the proof. The shims record each call's input wires: the prover's
to interpolate the wire polynomials, the verifier's to evaluate the proof's gadget
polynomial instead of the gadget.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod

from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field
from worktally.client.wire.vdaf.polynomial import (
    double_evaluations,
    extend_values_to_power_of_2,
    inv_ntt,
    next_power_of_2,
    ntt,
    poly_eval,
    poly_mul,
)

_mul = operator.mul


def wire_poly_len(gadget_calls: int) -> int:
    """Values per wire polynomial: the seed plus one per call, rounded up to a power of 2."""
    return next_power_of_2(1 + gadget_calls)


def gadget_poly_len(degree: int, wire_polynomial_len: int) -> int:
    """Values that determine the gadget polynomial (its degree plus one)."""
    return degree * (wire_polynomial_len - 1) + 1


class Gadget(ABC):
    """An arithmetic sub-circuit of fixed arity and degree."""

    ARITY: int
    DEGREE: int

    @abstractmethod
    def eval(self, field: Field, inp: list[int]) -> int:
        """Evaluate on field elements."""

    @abstractmethod
    def eval_poly(self, field: Field, inp_poly: list[list[int]]) -> list[int]:
        """Evaluate on Lagrange-basis polynomials (all of one power-of-two length)."""


class Mul(Gadget):
    """x * y."""

    ARITY = 2
    DEGREE = 2

    def eval(self, field: Field, inp: list[int]) -> int:
        return inp[0] * inp[1] % field.MODULUS

    def eval_poly(self, field: Field, inp_poly: list[list[int]]) -> list[int]:
        return poly_mul(field, inp_poly[0], inp_poly[1])


class PolyEval(Gadget):
    """p(x) for a fixed polynomial p (integer coefficients, constant term first)."""

    ARITY = 1

    def __init__(self, coeffs: list[int], num_calls: int) -> None:
        while coeffs and coeffs[-1] == 0:  # strip leading zeros
            coeffs = coeffs[:-1]
        if not coeffs:
            raise VdafError("invalid polynomial: zero length")
        self.coeffs = coeffs
        self.DEGREE = len(coeffs) - 1
        self.n = next_power_of_2(gadget_poly_len(self.DEGREE, wire_poly_len(num_calls)))

    def eval(self, field: Field, inp: list[int]) -> int:
        return poly_eval(field, [c % field.MODULUS for c in self.coeffs], inp[0])

    def eval_poly(self, field: Field, inp_poly: list[list[int]]) -> list[int]:
        # Monomial basis, then evaluate the input polynomial at n points and compose.
        inp_mon = inv_ntt(field, inp_poly[0], len(inp_poly[0]))
        inp_lag = ntt(field, inp_mon, self.n)
        coeffs = [c % field.MODULUS for c in self.coeffs]
        return [poly_eval(field, coeffs, x) for x in inp_lag]


class ParallelSum(Gadget):
    """The sum of `count` calls of a sub-circuit on consecutive slices of the input."""

    def __init__(self, subcircuit: Gadget, count: int) -> None:
        if count < 1:
            raise VdafError("ParallelSum needs count >= 1")
        self.subcircuit = subcircuit
        self.count = count
        self.ARITY = subcircuit.ARITY * count
        self.DEGREE = subcircuit.DEGREE

    def eval(self, field: Field, inp: list[int]) -> int:
        if isinstance(self.subcircuit, Mul):
            # Sum of pairwise products with a single reduction: the hot path of every
            # range check, run once per gadget call by prover and verifiers.
            return sum(map(_mul, inp[0::2], inp[1::2])) % field.MODULUS
        arity = self.subcircuit.ARITY
        total = 0
        for i in range(self.count):
            total += self.subcircuit.eval(field, inp[i * arity:(i + 1) * arity])
        return total % field.MODULUS

    def eval_poly(self, field: Field, inp_poly: list[list[int]]) -> list[int]:
        p = field.MODULUS
        out_len = next_power_of_2(gadget_poly_len(self.DEGREE, len(inp_poly[0])))
        if isinstance(self.subcircuit, Mul):
            doubled = [double_evaluations(field, w) for w in inp_poly]
            return [sum(map(_mul, col[0::2], col[1::2])) % p for col in zip(*doubled, strict=True)]
        arity = self.subcircuit.ARITY
        out = [0] * out_len
        for i in range(self.count):
            part = self.subcircuit.eval_poly(field, inp_poly[i * arity:(i + 1) * arity])
            out = [(a + b) % p for a, b in zip(out, part, strict=True)]
        return out


class ProveGadget(Gadget):
    """Prover shim: evaluates the inner gadget and records every call's inputs."""

    def __init__(self, inner: Gadget, wire_seeds: list[int], calls: int) -> None:
        self.inner = inner
        self.ARITY = inner.ARITY
        self.DEGREE = inner.DEGREE
        self.wire_seeds = wire_seeds
        self.p = wire_poly_len(calls)
        self.recorded: list[list[int]] = []

    def eval(self, field: Field, inp: list[int]) -> int:
        self.recorded.append(inp)
        return self.inner.eval(field, inp)

    def eval_poly(self, field: Field, inp_poly: list[list[int]]) -> list[int]:
        return self.inner.eval_poly(field, inp_poly)

    def wires(self) -> list[list[int]]:
        """wires[j] = [seed_j, call_1[j], ..., call_k[j], 0, ...] of length p."""
        return _wires(self.wire_seeds, self.recorded, self.p)


class QueryGadget(Gadget):
    """Verifier shim: records inputs and answers each call from the gadget polynomial.

    The proof carries the gadget polynomial's first `gadget_poly_len` values at the roots of
    unity of order `size`; the k-th call's output is its value at w_p**k = w_size**(k*step).
    """

    def __init__(self, field: Field, inner: Gadget, wire_seeds: list[int],
                 gadget_poly: list[int], calls: int) -> None:
        self.ARITY = inner.ARITY
        self.DEGREE = inner.DEGREE
        self.wire_seeds = wire_seeds
        self.p = wire_poly_len(calls)
        self.recorded: list[list[int]] = []
        # The proof gives degree+1 values; interpolate the rest of the power-of-two grid.
        poly = extend_values_to_power_of_2(field, gadget_poly,
                                           next_power_of_2(len(gadget_poly)))
        size = next_power_of_2(gadget_poly_len(inner.DEGREE, self.p))
        while len(poly) < size:
            poly = double_evaluations(field, poly)
        self.poly = poly
        self.step = len(poly) // self.p
        self.k = 0

    def eval(self, field: Field, inp: list[int]) -> int:
        self.recorded.append(inp)
        self.k += 1
        return self.poly[self.k * self.step]

    def eval_poly(self, field: Field, inp_poly: list[list[int]]) -> list[int]:
        raise VdafError("the query shim is never evaluated on polynomials")


def _wires(seeds: list[int], recorded: list[list[int]], p: int) -> list[list[int]]:
    if len(recorded) > p - 1:
        raise VdafError("gadget called more often than the circuit declares")
    padding = [0] * (p - 1 - len(recorded))
    columns = list(zip(*recorded, strict=True)) if recorded else [() for _ in seeds]
    return [[seed, *column, *padding] for seed, column in zip(seeds, columns, strict=True)]
