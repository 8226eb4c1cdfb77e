"""Replay the draft's JSON test vectors (schema: draft appendix "Test Vectors").

`run_vector_file` recognises the Prio3 variant from the file name (`Prio3Sum_1.json`,
`Prio3Histogram_bad_public_share.json`, ...) and the parameters in the file, replays every
entry of `operations` in order, and compares each message it produces with the file's
bytes. An operation with `success: false` passes only if that step raises VdafError.
Messages are always decoded from the file's bytes, so the decoders are exercised too and
the negative cases feed the tampered bytes to the step that must reject them.
XOF vector files (`XofTurboShake128.json`, `XofFixedKeyAes128.json`) are checked as well;
anything else (Poplar1, unknown names) is reported as skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field128
from worktally.client.wire.vdaf.messages import VerifyState
from worktally.client.wire.vdaf.prio3 import Prio3
from worktally.client.wire.vdaf.variants import (
    prio3_count,
    prio3_histogram,
    prio3_multihot_count_vec,
    prio3_sum,
    prio3_sum_vec,
    prio3_sum_vec_with_multiproof,
)
from worktally.client.wire.vdaf.xof import Xof, XofFixedKeyAes128, XofTurboShake128


@dataclass(frozen=True)
class VectorResult:
    """The outcome for one file; `skipped` files are neither passed nor failed."""

    name: str
    passed: bool
    detail: str
    skipped: bool = False


class _Mismatch(Exception):
    """A replayed step disagreed with the file."""


_XOFS: dict[str, type[Xof]] = {
    "XofTurboShake128": XofTurboShake128,
    "XofFixedKeyAes128": XofFixedKeyAes128,
}


def prio3_for_vector(name: str, params: dict[str, Any]) -> Prio3[Any, Any] | None:
    """The Prio3 instance a vector file describes, or None if it is not a Prio3 file."""
    variant = name.split("_", 1)[0]
    shares = params["shares"]
    if variant == "Prio3Count":
        return prio3_count(shares)
    if variant == "Prio3Sum":
        return prio3_sum(params["max_measurement"], shares)
    if variant == "Prio3SumVec":
        return prio3_sum_vec(params["length"], params["max_measurement"],
                             params["chunk_length"], shares)
    if variant == "Prio3SumVecWithMultiproof":
        return prio3_sum_vec_with_multiproof(params["length"], params["max_measurement"],
                                             params["chunk_length"], 3, shares)
    if variant == "Prio3Histogram":
        return prio3_histogram(params["length"], params["chunk_length"], shares)
    if variant == "Prio3MultihotCountVec":
        return prio3_multihot_count_vec(params["length"], params["max_weight"],
                                        params["chunk_length"], shares)
    return None


def run_vector_directory(directory: str | Path) -> list[VectorResult]:
    """Run every *.json file of a directory (not recursive), sorted by name."""
    return [run_vector_file(path) for path in sorted(Path(directory).glob("*.json"))]


def run_vector_file(path: str | Path) -> VectorResult:
    path = Path(path)
    name = path.stem
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return VectorResult(name, False, f"cannot read: {exc}")
    if not isinstance(data, dict):
        return VectorResult(name, False, "not a JSON object")
    try:
        if name in _XOFS:
            return _run_xof(name, _XOFS[name], data)
        if not name.startswith("Prio3"):
            return VectorResult(name, False, "skipped: not a Prio3 or XOF test vector",
                                skipped=True)
        vdaf = prio3_for_vector(name, data)
        if vdaf is None:
            return VectorResult(name, False, "skipped: unknown Prio3 variant", skipped=True)
        checked = _Replay(vdaf, data).run()
        return VectorResult(name, True, f"{vdaf!r}: {checked} operations match")
    except _Mismatch as exc:
        return VectorResult(name, False, str(exc))
    except (KeyError, IndexError, TypeError, ValueError) as exc:  # incl. VdafError
        return VectorResult(name, False, f"malformed vector file or parameters: {exc!r}")


def _run_xof(name: str, xof: type[Xof], data: dict[str, Any]) -> VectorResult:
    seed, dst, binder = (bytes.fromhex(data[k]) for k in ("seed", "dst", "binder"))
    if xof.derive_seed(seed, dst, binder).hex() != data["derived_seed"]:
        raise _Mismatch("derived seed differs")
    vec = xof.expand_into_vec(Field128, seed, dst, binder, data["length"])
    if Field128.encode_vec(vec).hex() != data["expanded_vec_field128"]:
        raise _Mismatch("expanded Field128 vector differs")
    return VectorResult(name, True, "derived seed and Field128 expansion match")


@dataclass
class _Report:
    states: dict[int, VerifyState] = field(default_factory=dict)
    message: bytes | None = None


class _Replay:
    """Carries verify states between the operations of one file."""

    def __init__(self, vdaf: Prio3[Any, Any], data: dict[str, Any]) -> None:
        self.vdaf = vdaf
        self.data = data
        self.ctx = bytes.fromhex(data["ctx"])
        self.verify_key = bytes.fromhex(data["verify_key"])
        self.reports: dict[int, _Report] = {}

    def run(self) -> int:
        operations = self.data["operations"]
        for number, op in enumerate(operations):
            kind, success = op["operation"], op["success"]
            where = f"operation {number} ({kind}, report {op.get('report_index')}, " \
                    f"aggregator {op.get('aggregator_id')})"
            try:
                self._do(kind, op)
            except VdafError as exc:
                if success:
                    raise _Mismatch(f"{where} was rejected: {exc}") from exc
                continue
            if not success:
                raise _Mismatch(f"{where} should have been rejected but succeeded")
        return len(operations)

    def _do(self, kind: str, op: dict[str, Any]) -> None:
        vdaf, data = self.vdaf, self.data
        if kind == "aggregate":
            agg_id = op["aggregator_id"]
            outs = [vdaf.decode_out_share(bytes.fromhex(r["out_shares"][agg_id]))
                    for r in data["reports"] if r["out_shares"]]
            self._expect(vdaf.encode_agg_share(vdaf.aggregate(None, outs)),
                         data["agg_shares"][agg_id], "aggregate share")
            return
        if kind == "unshard":
            agg_shares = [vdaf.decode_agg_share(bytes.fromhex(h)) for h in data["agg_shares"]]
            count = sum(1 for r in data["reports"] if r["out_shares"])
            result = vdaf.unshard(None, agg_shares, count)
            if result != data["agg_result"]:
                raise _Mismatch(f"aggregate result {result} != {data['agg_result']}")
            return

        index = op["report_index"]
        report = data["reports"][index]
        state = self.reports.setdefault(index, _Report())
        nonce = bytes.fromhex(report["nonce"])
        if kind == "shard":
            public, inputs = vdaf.shard(self.ctx, report["measurement"], nonce,
                                        bytes.fromhex(report["rand"]))
            self._expect(vdaf.encode_public_share(public), report["public_share"],
                         "public share")
            for agg_id, share in enumerate(inputs):
                self._expect(vdaf.encode_input_share(share), report["input_shares"][agg_id],
                             f"input share {agg_id}")
        elif kind == "verify_init":
            agg_id = op["aggregator_id"]
            public = vdaf.decode_public_share(bytes.fromhex(report["public_share"]))
            share = vdaf.decode_input_share(agg_id,
                                            bytes.fromhex(report["input_shares"][agg_id]))
            verify_state, verifier_share = vdaf.verify_init(
                self.verify_key, self.ctx, agg_id, None, nonce, public, share)
            state.states[agg_id] = verify_state
            self._expect(vdaf.encode_verifier_share(verifier_share),
                         report["verifier_shares"][0][agg_id], f"verifier share {agg_id}")
        elif kind == "verifier_shares_to_message":
            shares = [vdaf.decode_verifier_share(bytes.fromhex(h))
                      for h in report["verifier_shares"][op["round"]]]
            message = vdaf.verifier_shares_to_message(self.ctx, None, shares)
            self._expect(vdaf.encode_verifier_message(message),
                         report["verifier_messages"][op["round"]], "verifier message")
        elif kind == "verify_next":
            agg_id = op["aggregator_id"]
            if agg_id not in state.states:
                raise _Mismatch(f"verify_next for aggregator {agg_id} before verify_init")
            message = vdaf.decode_verifier_message(
                bytes.fromhex(report["verifier_messages"][op["round"] - 1]))
            out_share = vdaf.verify_next(self.ctx, state.states[agg_id], message)
            self._expect(vdaf.encode_out_share(out_share), report["out_shares"][agg_id],
                         f"output share {agg_id}")
        else:
            raise _Mismatch(f"unknown operation {kind!r}")

    @staticmethod
    def _expect(got: bytes, want_hex: str, what: str) -> None:
        if got.hex() != want_hex:
            raise _Mismatch(f"{what} differs: got {got.hex()[:64]}..., "
                            f"want {want_hex[:64]}...")
