"""Helpers for the VDAF tests: run one report through every aggregator, and fixtures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from worktally.client.wire.vdaf import InputShare, Prio3, PublicShare

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "vdaf"
CTX = b"worktally test"


def verify(vdaf: Prio3[Any, Any], verify_key: bytes, nonce: bytes, public_share: PublicShare,
           input_shares: list[InputShare], ctx: bytes = CTX,
           via_bytes: bool = True) -> list[list[int]]:
    """Every aggregator's output share, or VdafError from the step that rejects.

    With `via_bytes`, every message crosses an encode/decode round trip, as it would
    between aggregators over HTTP.
    """
    if via_bytes:
        public_share = vdaf.decode_public_share(vdaf.encode_public_share(public_share))
        input_shares = [vdaf.decode_input_share(i, vdaf.encode_input_share(s))
                        for i, s in enumerate(input_shares)]
    states, verifier_shares = [], []
    for agg_id, share in enumerate(input_shares):
        state, verifier_share = vdaf.verify_init(verify_key, ctx, agg_id, None, nonce,
                                                 public_share, share)
        if via_bytes:
            verifier_share = vdaf.decode_verifier_share(
                vdaf.encode_verifier_share(verifier_share))
            state = vdaf.decode_verify_state(vdaf.encode_verify_state(state))
        states.append(state)
        verifier_shares.append(verifier_share)
    message = vdaf.verifier_shares_to_message(ctx, None, verifier_shares)
    if via_bytes:
        message = vdaf.decode_verifier_message(vdaf.encode_verifier_message(message))
    return [vdaf.verify_next(ctx, state, message) for state in states]


def shard(vdaf: Prio3[Any, Any], measurement: Any,
          ctx: bytes = CTX) -> tuple[bytes, PublicShare, list[InputShare]]:
    nonce = os.urandom(vdaf.NONCE_SIZE)
    public_share, input_shares = vdaf.shard(ctx, measurement, nonce,
                                            os.urandom(vdaf.RAND_SIZE))
    return nonce, public_share, input_shares


def run(vdaf: Prio3[Any, Any], measurements: list[Any]) -> Any:
    """Shard, verify, aggregate and unshard a batch; the aggregate result."""
    key = os.urandom(vdaf.VERIFY_KEY_SIZE)
    agg_shares = [vdaf.agg_init(None) for _ in range(vdaf.SHARES)]
    for measurement in measurements:
        nonce, public_share, input_shares = shard(vdaf, measurement)
        outs = verify(vdaf, key, nonce, public_share, input_shares)
        agg_shares = [vdaf.agg_update(None, a, o) for a, o in zip(agg_shares, outs,
                                                                  strict=True)]
    agg_shares = [vdaf.decode_agg_share(vdaf.encode_agg_share(a)) for a in agg_shares]
    return vdaf.unshard(None, agg_shares, len(measurements))
