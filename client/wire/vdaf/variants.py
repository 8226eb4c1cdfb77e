"""Constructors for the draft's Prio3 variants, with its algorithm ids and fields.

| variant                        | id           | field    | proofs |
|--------------------------------|--------------|----------|--------|
| Prio3Count                     | 0x00000001   | Field64  | 1      |
| Prio3Sum                       | 0x00000002   | Field64  | 1      |
| Prio3SumVec                    | 0x00000003   | Field128 | 1      |
| Prio3Histogram                 | 0x00000004   | Field128 | 1      |
| Prio3MultihotCountVec          | 0x00000005   | Field128 | 1      |
| Prio3SumVecWithMultiproof      | 0xFFFFFFFF   | Field64  | 3 (>= 2 allowed) |

The multiproof variant is not in the draft's registry; its test vectors are made with the
last private-use id, 0xFFFFFFFF, Field64 and three proofs (the draft's minimum for a
circuit with joint randomness over Field64).
"""

from __future__ import annotations

from worktally.client.wire.vdaf.circuits import Count, Histogram, MultihotCountVec, Sum, SumVec
from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field64, Field128
from worktally.client.wire.vdaf.prio3 import Prio3

PRIO3_COUNT_ID = 0x00000001
PRIO3_SUM_ID = 0x00000002
PRIO3_SUM_VEC_ID = 0x00000003
PRIO3_HISTOGRAM_ID = 0x00000004
PRIO3_MULTIHOT_COUNT_VEC_ID = 0x00000005
PRIO3_SUM_VEC_WITH_MULTIPROOF_ID = 0xFFFFFFFF


def prio3_count(shares: int = 2) -> Prio3[int, int]:
    return Prio3(Count(Field64), algorithm_id=PRIO3_COUNT_ID, name="Prio3Count",
                 shares=shares)


def prio3_sum(max_measurement: int, shares: int = 2) -> Prio3[int, int]:
    return Prio3(Sum(Field64, max_measurement), algorithm_id=PRIO3_SUM_ID, name="Prio3Sum",
                 shares=shares)


def prio3_sum_vec(length: int, max_measurement: int, chunk_length: int,
                  shares: int = 2) -> Prio3[list[int], list[int]]:
    """Vectors of `length` integers in [0, max_measurement] (the draft's parameters;
    bits = max_measurement.bit_length())."""
    return Prio3(SumVec(Field128, length, max_measurement, chunk_length),
                 algorithm_id=PRIO3_SUM_VEC_ID, name="Prio3SumVec", shares=shares)


def prio3_histogram(length: int, chunk_length: int,
                    shares: int = 2) -> Prio3[int, list[int]]:
    return Prio3(Histogram(Field128, length, chunk_length),
                 algorithm_id=PRIO3_HISTOGRAM_ID, name="Prio3Histogram", shares=shares)


def prio3_multihot_count_vec(length: int, max_weight: int, chunk_length: int,
                             shares: int = 2) -> Prio3[list[bool], list[int]]:
    return Prio3(MultihotCountVec(Field128, length, max_weight, chunk_length),
                 algorithm_id=PRIO3_MULTIHOT_COUNT_VEC_ID, name="Prio3MultihotCountVec",
                 shares=shares)


def prio3_sum_vec_with_multiproof(length: int, max_measurement: int, chunk_length: int,
                                  num_proofs: int = 3, shares: int = 2,
                                  ) -> Prio3[list[int], list[int]]:
    if num_proofs < 2:
        raise VdafError("the multiproof variant needs at least two proofs")
    return Prio3(SumVec(Field64, length, max_measurement, chunk_length),
                 algorithm_id=PRIO3_SUM_VEC_WITH_MULTIPROOF_ID,
                 name="Prio3SumVecWithMultiproof", num_proofs=num_proofs, shares=shares)
