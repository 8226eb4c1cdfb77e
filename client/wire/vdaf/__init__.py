"""Prio3 (draft-irtf-cfrg-vdaf-20) for worktally's client and aggregators.

This package is the shared wire-format layer: it imports nothing else from worktally.
Start with a constructor (`prio3_count`, ..., or `bounded_vec` for worktally's own report),
then `shard` on the client and `verify_init` / `verifier_shares_to_message` /
`verify_next` / `aggregate` / `unshard` on the aggregators; every message has an
`encode_*` / `decode_*` pair on the same object. Every rejection is a `VdafError`.
"""

from __future__ import annotations

from worktally.client.wire.vdaf.bounded import (
    BOUNDED_VEC_ID,
    BoundedVec,
    Entry,
    best_chunk_length,
    bounded_vec,
)
from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field, Field64, Field128
from worktally.client.wire.vdaf.messages import (
    HelperShare,
    InputShare,
    LeaderShare,
    PublicShare,
    VerifierMessage,
    VerifierShare,
    VerifyState,
)
from worktally.client.wire.vdaf.prio3 import Prio3
from worktally.client.wire.vdaf.variants import (
    prio3_count,
    prio3_histogram,
    prio3_multihot_count_vec,
    prio3_sum,
    prio3_sum_vec,
    prio3_sum_vec_with_multiproof,
)
from worktally.client.wire.vdaf.vectors import (
    VectorResult,
    run_vector_directory,
    run_vector_file,
)

__all__ = [
    "BOUNDED_VEC_ID",
    "BoundedVec",
    "Entry",
    "Field",
    "Field64",
    "Field128",
    "HelperShare",
    "InputShare",
    "LeaderShare",
    "Prio3",
    "PublicShare",
    "VdafError",
    "VectorResult",
    "VerifierMessage",
    "VerifierShare",
    "VerifyState",
    "best_chunk_length",
    "bounded_vec",
    "prio3_count",
    "prio3_histogram",
    "prio3_multihot_count_vec",
    "prio3_sum",
    "prio3_sum_vec",
    "prio3_sum_vec_with_multiproof",
    "run_vector_directory",
    "run_vector_file",
]
