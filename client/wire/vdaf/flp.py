"""The fully linear proof of BBCGGI19 (draft section "FLP Specification") over any circuit.

`prove` runs the circuit with recording shims and sends, per gadget, the wire seeds and the
gadget polynomial. `query` runs the circuit on a share of the measurement, answering gadget
calls from the share of the gadget polynomial, and outputs a share of the verifier message:
the (reduced) circuit output plus, per gadget, the wire polynomials and the gadget
polynomial evaluated at a random point t. `decide` checks that the output is zero and that
the gadget applied to the wire values equals the gadget polynomial's value at t.
"""

from __future__ import annotations

import operator
from typing import Generic, TypeVar

from worktally.client.wire.vdaf.circuits import Valid
from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field
from worktally.client.wire.vdaf.gadgets import (
    Gadget,
    ProveGadget,
    QueryGadget,
    gadget_poly_len,
    wire_poly_len,
)
from worktally.client.wire.vdaf.polynomial import lagrange_weights

_mul = operator.mul
M = TypeVar("M")
R = TypeVar("R")


class Flp(Generic[M, R]):
    """FLP parameters and algorithms derived from one validity circuit."""

    def __init__(self, valid: Valid[M, R]) -> None:
        self.valid = valid
        self.field: Field = valid.field
        self.PROVE_RAND_LEN = valid.prove_rand_len()
        self.QUERY_RAND_LEN = valid.query_rand_len()
        self.JOINT_RAND_LEN = valid.JOINT_RAND_LEN
        self.MEAS_LEN = valid.MEAS_LEN
        self.OUTPUT_LEN = valid.OUTPUT_LEN
        self.PROOF_LEN = valid.proof_len()
        self.VERIFIER_LEN = valid.verifier_len()

    def encode(self, measurement: M) -> list[int]:
        return self.valid.encode(measurement)

    def truncate(self, meas: list[int]) -> list[int]:
        return self.valid.truncate(meas)

    def decode(self, output: list[int], num_measurements: int) -> R:
        return self.valid.decode(output, num_measurements)

    def prove(self, meas: list[int], prove_rand: list[int], joint_rand: list[int]) -> list[int]:
        """The proof: per gadget, its wire seeds then its gadget polynomial's values."""
        self._check_lengths(meas, joint_rand)
        if len(prove_rand) != self.PROVE_RAND_LEN:
            raise VdafError("prove randomness has the wrong length")
        shims: list[ProveGadget] = []
        offset = 0
        for g, calls in zip(self.valid.GADGETS, self.valid.GADGET_CALLS, strict=True):
            shims.append(ProveGadget(g, prove_rand[offset:offset + g.ARITY], calls))
            offset += g.ARITY
        self.valid.eval(meas, joint_rand, 1, shims)

        proof: list[int] = []
        for shim, calls in zip(shims, self.valid.GADGET_CALLS, strict=True):
            wires = shim.wires()
            proof += shim.wire_seeds
            gadget_poly = shim.eval_poly(self.field, wires)
            proof += gadget_poly[:gadget_poly_len(shim.DEGREE, wire_poly_len(calls))]
        return proof

    def query(self, meas: list[int], proof: list[int], query_rand: list[int],
              joint_rand: list[int], num_shares: int) -> list[int]:
        """A share of the verifier message from a share of the measurement and proof."""
        self._check_lengths(meas, joint_rand)
        if len(proof) != self.PROOF_LEN:
            raise VdafError("proof share has the wrong length")
        if len(query_rand) != self.QUERY_RAND_LEN:
            raise VdafError("query randomness has the wrong length")
        field, p = self.field, self.field.MODULUS
        shims: list[QueryGadget] = []
        offset = 0
        for g, calls in zip(self.valid.GADGETS, self.valid.GADGET_CALLS, strict=True):
            seeds = proof[offset:offset + g.ARITY]
            offset += g.ARITY
            poly_len = gadget_poly_len(g.DEGREE, wire_poly_len(calls))
            shims.append(QueryGadget(field, g, seeds, proof[offset:offset + poly_len], calls))
            offset += poly_len
        gadgets: list[Gadget] = list(shims)
        out = self.valid.eval(meas, joint_rand, num_shares, gadgets)

        # Several circuit outputs are reduced to one with a random linear combination.
        if self.valid.EVAL_OUTPUT_LEN > 1:
            rand = query_rand[:self.valid.EVAL_OUTPUT_LEN]
            query_rand = query_rand[self.valid.EVAL_OUTPUT_LEN:]
            v = sum(map(_mul, rand, out)) % p
        else:
            [v] = out

        verifier = [v]
        for shim, t in zip(shims, query_rand, strict=True):
            # A t among the evaluation points would hand out a wire value (the
            # measurement) instead of a blinded polynomial evaluation: the draft aborts.
            if pow(t, shim.p, p) == 1:
                raise VdafError("query: test point is a root of unity")
            # Each wire polynomial is [seed, call_1, ..., call_k, 0, ...]: its value at t is
            # a dot product with the Lagrange weights, taken straight from the recorded
            # calls (the zero padding contributes nothing).
            weights = lagrange_weights(field, shim.p, t)
            w0, rest = weights[0], weights[1:]
            columns = zip(*shim.recorded, strict=True)
            verifier += [(seed * w0 + sum(map(_mul, rest, column))) % p
                         for seed, column in zip(shim.wire_seeds, columns, strict=True)]
            gadget_weights = (weights if len(shim.poly) == shim.p
                              else lagrange_weights(field, len(shim.poly), t))
            verifier.append(sum(map(_mul, gadget_weights, shim.poly)) % p)
        return verifier

    def decide(self, verifier: list[int]) -> bool:
        """True iff the circuit output is zero and every gadget test passes."""
        if len(verifier) != self.VERIFIER_LEN:
            raise VdafError("verifier message has the wrong length")
        if verifier[0] != 0:
            return False
        offset = 1
        for g in self.valid.GADGETS:
            wire_checks = verifier[offset:offset + g.ARITY]
            gadget_check = verifier[offset + g.ARITY]
            offset += g.ARITY + 1
            if g.eval(self.field, wire_checks) != gadget_check:
                return False
        return True

    def _check_lengths(self, meas: list[int], joint_rand: list[int]) -> None:
        if len(meas) != self.MEAS_LEN:
            raise VdafError("measurement has the wrong length")
        if len(joint_rand) != self.JOINT_RAND_LEN:
            raise VdafError("joint randomness has the wrong length")
