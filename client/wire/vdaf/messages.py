"""Prio3's messages and their byte encodings (draft section "Message Serialization").

Aggregators exchange these as bytes over HTTP, so every decoder takes untrusted input:
it checks the exact length first and rejects a field element above the modulus, raising
VdafError (never IndexError) with a message that says which message was malformed.
"""

from __future__ import annotations

from dataclasses import dataclass

from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field


@dataclass(frozen=True)
class LeaderShare:
    """Aggregator 0's input share: its measurement share and proof shares in full."""

    meas_share: list[int]
    proofs_share: list[int]
    blind: bytes | None  # present iff the circuit uses joint randomness


@dataclass(frozen=True)
class HelperShare:
    """A helper's input share: one XOF seed that expands to its measurement/proof shares."""

    share: bytes
    blind: bytes | None


InputShare = LeaderShare | HelperShare
PublicShare = list[bytes] | None  # the joint randomness parts, one per aggregator
VerifierMessage = bytes | None  # the joint randomness seed


@dataclass(frozen=True)
class VerifyState:
    """What an aggregator keeps between verify_init and verify_next."""

    out_share: list[int]
    corrected_joint_rand_seed: bytes | None


@dataclass(frozen=True)
class VerifierShare:
    """What each aggregator sends after verify_init."""

    verifiers_share: list[int]
    joint_rand_part: bytes | None


class Prio3Codec:
    """Encoders and decoders; mixed into `Prio3`, which sets these attributes."""

    field: Field
    SHARES: int
    PROOFS: int
    SEED_SIZE: int
    MEAS_LEN: int
    PROOF_LEN: int
    VERIFIER_LEN: int
    OUTPUT_LEN: int
    uses_joint_rand: bool

    # --- public share --------------------------------------------------------------------

    def encode_public_share(self, public_share: PublicShare) -> bytes:
        if not self.uses_joint_rand:
            return b""
        if public_share is None or len(public_share) != self.SHARES:
            raise VdafError("public share must hold one joint randomness part per aggregator")
        return b"".join(self._seed(part, "joint randomness part") for part in public_share)

    def decode_public_share(self, data: bytes) -> PublicShare:
        if not self.uses_joint_rand:
            _expect(data, 0, "public share")
            return None
        s = self.SEED_SIZE
        _expect(data, s * self.SHARES, "public share")
        return [bytes(data[i:i + s]) for i in range(0, len(data), s)]

    # --- input shares --------------------------------------------------------------------

    def encode_input_share(self, input_share: InputShare) -> bytes:
        blind = b""
        if self.uses_joint_rand:
            blind = self._seed(input_share.blind, "blind")
        if isinstance(input_share, LeaderShare):
            if len(input_share.meas_share) != self.MEAS_LEN \
                    or len(input_share.proofs_share) != self.PROOF_LEN * self.PROOFS:
                raise VdafError("leader input share has the wrong length")
            return (self.field.encode_vec(input_share.meas_share)
                    + self.field.encode_vec(input_share.proofs_share) + blind)
        return self._seed(input_share.share, "helper share seed") + blind

    def decode_input_share(self, agg_id: int, data: bytes) -> InputShare:
        """Decode the input share meant for aggregator `agg_id` (0 is the leader)."""
        self._check_agg_id(agg_id)
        s, size = self.SEED_SIZE, self.field.ENCODED_SIZE
        blind_len = s if self.uses_joint_rand else 0
        if agg_id > 0:
            _expect(data, s + blind_len, "helper input share")
            return HelperShare(bytes(data[:s]), bytes(data[s:]) if blind_len else None)
        meas_bytes = self.MEAS_LEN * size
        proof_bytes = self.PROOF_LEN * self.PROOFS * size
        _expect(data, meas_bytes + proof_bytes + blind_len, "leader input share")
        return LeaderShare(
            self.field.decode_vec(data[:meas_bytes]),
            self.field.decode_vec(data[meas_bytes:meas_bytes + proof_bytes]),
            bytes(data[meas_bytes + proof_bytes:]) if blind_len else None,
        )

    # --- verification messages -----------------------------------------------------------

    def encode_verifier_share(self, verifier_share: VerifierShare) -> bytes:
        if len(verifier_share.verifiers_share) != self.VERIFIER_LEN * self.PROOFS:
            raise VdafError("verifier share has the wrong length")
        out = self.field.encode_vec(verifier_share.verifiers_share)
        if self.uses_joint_rand:
            out += self._seed(verifier_share.joint_rand_part, "joint randomness part")
        return out

    def decode_verifier_share(self, data: bytes) -> VerifierShare:
        vec_len = self.VERIFIER_LEN * self.PROOFS * self.field.ENCODED_SIZE
        if not self.uses_joint_rand:
            _expect(data, vec_len, "verifier share")
            return VerifierShare(self.field.decode_vec(data), None)
        _expect(data, vec_len + self.SEED_SIZE, "verifier share")
        return VerifierShare(self.field.decode_vec(data[:vec_len]), bytes(data[vec_len:]))

    def encode_verifier_message(self, message: VerifierMessage) -> bytes:
        if not self.uses_joint_rand:
            return b""
        return self._seed(message, "verifier message")

    def decode_verifier_message(self, data: bytes) -> VerifierMessage:
        if not self.uses_joint_rand:
            _expect(data, 0, "verifier message")
            return None
        _expect(data, self.SEED_SIZE, "verifier message")
        return bytes(data)

    def encode_verify_state(self, state: VerifyState) -> bytes:
        """Not a draft message: lets an aggregator persist its state between requests."""
        out = self.encode_out_share(state.out_share)
        if self.uses_joint_rand:
            out += self._seed(state.corrected_joint_rand_seed, "joint randomness seed")
        return out

    def decode_verify_state(self, data: bytes) -> VerifyState:
        n = self.OUTPUT_LEN * self.field.ENCODED_SIZE
        _expect(data, n + (self.SEED_SIZE if self.uses_joint_rand else 0), "verify state")
        seed = bytes(data[n:]) if self.uses_joint_rand else None
        return VerifyState(self.field.decode_vec(data[:n]), seed)

    # --- output and aggregate shares -----------------------------------------------------

    def encode_out_share(self, out_share: list[int]) -> bytes:
        return self._vector(out_share, "output share")

    def decode_out_share(self, data: bytes) -> list[int]:
        _expect(data, self.OUTPUT_LEN * self.field.ENCODED_SIZE, "output share")
        return self.field.decode_vec(data)

    def encode_agg_share(self, agg_share: list[int]) -> bytes:
        return self._vector(agg_share, "aggregate share")

    def decode_agg_share(self, data: bytes) -> list[int]:
        _expect(data, self.OUTPUT_LEN * self.field.ENCODED_SIZE, "aggregate share")
        return self.field.decode_vec(data)

    # --- helpers -------------------------------------------------------------------------

    def _check_agg_id(self, agg_id: int) -> None:
        if not isinstance(agg_id, int) or not 0 <= agg_id < self.SHARES:
            raise VdafError(f"aggregator id {agg_id!r} is outside [0, {self.SHARES})")

    def _seed(self, seed: bytes | None, what: str) -> bytes:
        if not isinstance(seed, bytes) or len(seed) != self.SEED_SIZE:
            raise VdafError(f"{what} must be {self.SEED_SIZE} bytes")
        return seed

    def _vector(self, vec: list[int], what: str) -> bytes:
        p = self.field.MODULUS
        if len(vec) != self.OUTPUT_LEN or not all(0 <= x < p for x in vec):
            raise VdafError(f"{what} must be {self.OUTPUT_LEN} reduced field elements")
        return self.field.encode_vec(vec)


def _expect(data: bytes, length: int, what: str) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise VdafError(f"{what} must be bytes")
    if len(data) != length:
        raise VdafError(f"{what} is {len(data)} bytes, expected {length}")
