"""Prio3 (draft section "Prio3"): an FLP turned into a VDAF.

The client splits its encoded measurement into additive shares (helpers get an XOF seed,
the leader the difference), proves validity with the FLP, and splits the proof the same
way. Each aggregator queries its shares; the verifier shares add up to the verifier
message the FLP decides on. Circuits with joint randomness also make the aggregators
re-derive the client's joint randomness from their own shares, and reject the report if
the seed they agree on differs from the one each used.

Field elements are plain ints (see `field.py`); messages are the dataclasses of
`messages.py`, with the byte encodings mixed in from `Prio3Codec`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

from worktally.client.wire.vdaf.circuits import Valid
from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.flp import Flp
from worktally.client.wire.vdaf.messages import (
    HelperShare,
    InputShare,
    LeaderShare,
    Prio3Codec,
    PublicShare,
    VerifierMessage,
    VerifierShare,
    VerifyState,
)
from worktally.client.wire.vdaf.xof import Xof, XofTurboShake128, format_dst

M = TypeVar("M")
R = TypeVar("R")

USAGE_MEAS_SHARE = 1
USAGE_PROOF_SHARE = 2
USAGE_JOINT_RANDOMNESS = 3
USAGE_PROVE_RANDOMNESS = 4
USAGE_QUERY_RANDOMNESS = 5
USAGE_JOINT_RAND_SEED = 6
USAGE_JOINT_RAND_PART = 7

NONCE_SIZE = 16


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Prefix any rejection with the step it happened in."""
    try:
        yield
    except VdafError as exc:
        if str(exc).startswith(name + ":"):
            raise
        raise VdafError(f"{name}: {exc}") from exc


class Prio3(Prio3Codec, Generic[M, R]):
    """Prio3 over one validity circuit. Prio3 has no aggregation parameter: pass None."""

    def __init__(self, valid: Valid[M, R], *, algorithm_id: int, name: str,
                 num_proofs: int = 1, shares: int = 2,
                 xof: type[Xof] = XofTurboShake128) -> None:
        if not 1 <= num_proofs < 256:
            raise VdafError("num_proofs must be in [1, 256)")
        if not 2 <= shares < 256:
            raise VdafError("shares must be in [2, 256)")
        if not 0 <= algorithm_id < 2**32:
            raise VdafError("algorithm id must fit in 32 bits")
        self.ID = algorithm_id
        self.name = name
        self.flp: Flp[M, R] = Flp(valid)
        self.xof = xof
        self.field = valid.field
        self.PROOFS = num_proofs
        self.SHARES = shares
        self.SEED_SIZE = xof.SEED_SIZE
        self.VERIFY_KEY_SIZE = xof.SEED_SIZE
        self.NONCE_SIZE = NONCE_SIZE
        self.ROUNDS = 1
        self.uses_joint_rand = self.flp.JOINT_RAND_LEN > 0
        self.RAND_SIZE = self.SEED_SIZE * shares * (2 if self.uses_joint_rand else 1)
        self.MEAS_LEN = self.flp.MEAS_LEN
        self.PROOF_LEN = self.flp.PROOF_LEN
        self.VERIFIER_LEN = self.flp.VERIFIER_LEN
        self.OUTPUT_LEN = self.flp.OUTPUT_LEN

    def __repr__(self) -> str:
        return f"{self.name}(id={self.ID:#010x}, proofs={self.PROOFS}, shares={self.SHARES})"

    # --- sharding ------------------------------------------------------------------------

    def shard(self, ctx: bytes, measurement: M, nonce: bytes,
              rand: bytes) -> tuple[PublicShare, list[InputShare]]:
        """Split a measurement into a public share and one input share per aggregator.

        `rand` must be RAND_SIZE bytes from a CSPRNG (os.urandom) and `nonce` 16 fresh
        bytes; both are parameters only so the test vectors can be replayed.
        """
        with _step("shard"):
            return self._shard_meas(ctx, self.flp.encode(measurement), nonce, rand)

    def shard_encoded(self, ctx: bytes, meas: list[int], nonce: bytes,
                      rand: bytes) -> tuple[PublicShare, list[InputShare]]:
        """Shard an already encoded measurement, valid or not, with an honest proof.

        For soundness tests: a client can always do this, so the aggregators must reject
        whatever invalid vector comes in this way.
        """
        with _step("shard"):
            p = self.field.MODULUS
            if len(meas) != self.MEAS_LEN or not all(0 <= x < p for x in meas):
                raise VdafError(f"encoded measurement must be {self.MEAS_LEN} field elements")
            return self._shard_meas(ctx, list(meas), nonce, rand)

    def _shard_meas(self, ctx: bytes, meas: list[int], nonce: bytes,
                    rand: bytes) -> tuple[PublicShare, list[InputShare]]:
        if len(nonce) != NONCE_SIZE:
            raise VdafError("incorrect nonce size")
        if len(rand) != self.RAND_SIZE:
            raise VdafError("incorrect size of random bytes argument")
        s = self.SEED_SIZE
        seeds = [rand[i:i + s] for i in range(0, self.RAND_SIZE, s)]
        if self.uses_joint_rand:
            return self._shard_with_joint_rand(ctx, meas, nonce, seeds)
        return self._shard_without_joint_rand(ctx, meas, seeds)

    def _shard_without_joint_rand(self, ctx: bytes, meas: list[int],
                                  seeds: list[bytes]) -> tuple[PublicShare, list[InputShare]]:
        helper_seeds, prove_seed = seeds[:self.SHARES - 1], seeds[self.SHARES - 1]
        leader_meas = meas
        for j, seed in enumerate(helper_seeds):
            leader_meas = self.field.vec_sub(leader_meas,
                                             self._helper_meas_share(ctx, j + 1, seed))
        proofs = self._prove_all(ctx, meas, prove_seed, None)
        leader_proofs = self._subtract_helper_proofs(ctx, proofs, helper_seeds)
        shares: list[InputShare] = [LeaderShare(leader_meas, leader_proofs, None)]
        shares += [HelperShare(seed, None) for seed in helper_seeds]
        return None, shares

    def _shard_with_joint_rand(self, ctx: bytes, meas: list[int], nonce: bytes,
                               seeds: list[bytes]) -> tuple[PublicShare, list[InputShare]]:
        n = self.SHARES - 1
        helper_seeds = seeds[0:2 * n:2]
        helper_blinds = seeds[1:2 * n:2]
        leader_blind, prove_seed = seeds[2 * n], seeds[2 * n + 1]
        leader_meas = meas
        parts = []
        for j in range(n):
            helper_meas = self._helper_meas_share(ctx, j + 1, helper_seeds[j])
            leader_meas = self.field.vec_sub(leader_meas, helper_meas)
            parts.append(self._joint_rand_part(ctx, j + 1, helper_blinds[j], helper_meas,
                                               nonce))
        parts.insert(0, self._joint_rand_part(ctx, 0, leader_blind, leader_meas, nonce))
        joint_rands = self._joint_rands(ctx, self._joint_rand_seed(ctx, parts))
        proofs = self._prove_all(ctx, meas, prove_seed, joint_rands)
        leader_proofs = self._subtract_helper_proofs(ctx, proofs, helper_seeds)
        shares: list[InputShare] = [LeaderShare(leader_meas, leader_proofs, leader_blind)]
        shares += [HelperShare(helper_seeds[j], helper_blinds[j]) for j in range(n)]
        return parts, shares

    def _prove_all(self, ctx: bytes, meas: list[int], prove_seed: bytes,
                   joint_rands: list[int] | None) -> list[int]:
        flp = self.flp
        prove_rands = self._prove_rands(ctx, prove_seed)
        proofs: list[int] = []
        for i in range(self.PROOFS):
            prove_rand = prove_rands[i * flp.PROVE_RAND_LEN:(i + 1) * flp.PROVE_RAND_LEN]
            joint_rand = ([] if joint_rands is None else
                          joint_rands[i * flp.JOINT_RAND_LEN:(i + 1) * flp.JOINT_RAND_LEN])
            proofs += flp.prove(meas, prove_rand, joint_rand)
        return proofs

    def _subtract_helper_proofs(self, ctx: bytes, proofs: list[int],
                                helper_seeds: Sequence[bytes]) -> list[int]:
        for j, seed in enumerate(helper_seeds):
            proofs = self.field.vec_sub(proofs, self._helper_proofs_share(ctx, j + 1, seed))
        return proofs

    # --- verification --------------------------------------------------------------------

    def verify_init(self, verify_key: bytes, ctx: bytes, agg_id: int, agg_param: None,
                    nonce: bytes, public_share: PublicShare,
                    input_share: InputShare) -> tuple[VerifyState, VerifierShare]:
        """Query this aggregator's shares; returns its state and its verifier share."""
        with _step("verify_init"):
            self._check_agg_id(agg_id)
            if len(verify_key) != self.VERIFY_KEY_SIZE:
                raise VdafError("incorrect verify key size")
            if len(nonce) != NONCE_SIZE:
                raise VdafError("incorrect nonce size")
            meas_share, proofs_share, blind = self._expand_input_share(ctx, agg_id,
                                                                       input_share)
            flp = self.flp
            out_share = flp.truncate(meas_share)

            joint_rands: list[int] = []
            corrected_seed = part = None
            if self.uses_joint_rand:
                if blind is None or public_share is None or len(public_share) != self.SHARES:
                    raise VdafError("joint randomness parts or blind missing")
                part = self._joint_rand_part(ctx, agg_id, blind, meas_share, nonce)
                parts = list(public_share)
                parts[agg_id] = part
                corrected_seed = self._joint_rand_seed(ctx, parts)
                joint_rands = self._joint_rands(ctx, corrected_seed)

            query_rands = self._query_rands(verify_key, ctx, nonce)
            verifiers: list[int] = []
            q, j, pl = flp.QUERY_RAND_LEN, flp.JOINT_RAND_LEN, flp.PROOF_LEN
            for i in range(self.PROOFS):
                verifiers += flp.query(meas_share, proofs_share[i * pl:(i + 1) * pl],
                                       query_rands[i * q:(i + 1) * q],
                                       joint_rands[i * j:(i + 1) * j], self.SHARES)
            return VerifyState(out_share, corrected_seed), VerifierShare(verifiers, part)

    def verifier_shares_to_message(self, ctx: bytes, agg_param: None,
                                   verifier_shares: Sequence[VerifierShare]) -> VerifierMessage:
        """Combine all verifier shares, decide, and derive the joint randomness seed."""
        with _step("verifier_shares_to_message"):
            if len(verifier_shares) != self.SHARES:
                raise VdafError(f"need {self.SHARES} verifier shares")
            p = self.field.MODULUS
            total = self.VERIFIER_LEN * self.PROOFS
            verifiers = [0] * total
            parts = []
            for share in verifier_shares:
                if len(share.verifiers_share) != total:
                    raise VdafError("verifier share has the wrong length")
                verifiers = [(a + b) % p for a, b in zip(verifiers, share.verifiers_share,
                                                         strict=True)]
                if self.uses_joint_rand:
                    if share.joint_rand_part is None:
                        raise VdafError("verifier share lacks its joint randomness part")
                    parts.append(share.joint_rand_part)
            v = self.VERIFIER_LEN
            for i in range(self.PROOFS):
                if not self.flp.decide(verifiers[i * v:(i + 1) * v]):
                    raise VdafError("proof verifier check failed")
            return self._joint_rand_seed(ctx, parts) if self.uses_joint_rand else None

    def verify_next(self, ctx: bytes, verify_state: VerifyState,
                    verifier_message: VerifierMessage) -> list[int]:
        """The output share, once the joint randomness seeds are known to agree."""
        with _step("verify_next"):
            if verifier_message != verify_state.corrected_joint_rand_seed:
                raise VdafError("joint randomness check failed")
            return verify_state.out_share

    def is_valid(self, agg_param: None, previous_agg_params: Sequence[None]) -> bool:
        """Prio3 aggregates each report at most once."""
        return len(previous_agg_params) == 0

    # --- aggregation ---------------------------------------------------------------------

    def agg_init(self, agg_param: None) -> list[int]:
        return [0] * self.OUTPUT_LEN

    def agg_update(self, agg_param: None, agg_share: list[int],
                   out_share: list[int]) -> list[int]:
        with _step("agg_update"):
            return self.field.vec_add(agg_share, out_share)

    def aggregate(self, agg_param: None, out_shares: Sequence[list[int]]) -> list[int]:
        """agg_init then agg_update over every output share."""
        agg = self.agg_init(agg_param)
        for out_share in out_shares:
            agg = self.agg_update(agg_param, agg, out_share)
        return agg

    def merge(self, agg_param: None, agg_shares: Sequence[list[int]]) -> list[int]:
        return self.aggregate(agg_param, agg_shares)

    def add_noise(self, agg_share: list[int], noise: Sequence[int]) -> list[int]:
        """An aggregate share plus one integer of any sign per element, mod p."""
        with _step("add_noise"):
            return self.field.vec_add_signed(agg_share, list(noise))

    def unshard(self, agg_param: None, agg_shares: Sequence[list[int]],
                num_measurements: int, *, signed: bool = False) -> R:
        """The aggregate result. With `signed`, elements above p/2 are read as negative
        totals (noise added by the aggregators can push a small total below zero)."""
        with _step("unshard"):
            if len(agg_shares) != self.SHARES:
                raise VdafError(f"need {self.SHARES} aggregate shares")
            agg = self.merge(agg_param, agg_shares)
            if signed:
                agg = [self.field.to_signed(x) for x in agg]
            return self.flp.decode(agg, num_measurements)

    # --- auxiliary functions -------------------------------------------------------------

    def domain_separation_tag(self, usage: int, ctx: bytes) -> bytes:
        return format_dst(0, self.ID, usage) + ctx

    def _expand_input_share(self, ctx: bytes, agg_id: int, input_share: InputShare
                            ) -> tuple[list[int], list[int], bytes | None]:
        if agg_id > 0:
            if not isinstance(input_share, HelperShare):
                raise VdafError("a helper needs a helper input share")
            self._seed(input_share.share, "helper share seed")
            return (self._helper_meas_share(ctx, agg_id, input_share.share),
                    self._helper_proofs_share(ctx, agg_id, input_share.share),
                    input_share.blind)
        if not isinstance(input_share, LeaderShare):
            raise VdafError("the leader needs a leader input share")
        if len(input_share.meas_share) != self.MEAS_LEN \
                or len(input_share.proofs_share) != self.PROOF_LEN * self.PROOFS:
            raise VdafError("leader input share has the wrong length")
        return input_share.meas_share, input_share.proofs_share, input_share.blind

    def _helper_meas_share(self, ctx: bytes, agg_id: int, share: bytes) -> list[int]:
        return self.xof.expand_into_vec(self.field, share,
                                        self.domain_separation_tag(USAGE_MEAS_SHARE, ctx),
                                        bytes([agg_id]), self.MEAS_LEN)

    def _helper_proofs_share(self, ctx: bytes, agg_id: int, share: bytes) -> list[int]:
        return self.xof.expand_into_vec(self.field, share,
                                        self.domain_separation_tag(USAGE_PROOF_SHARE, ctx),
                                        bytes([self.PROOFS, agg_id]),
                                        self.PROOF_LEN * self.PROOFS)

    def _prove_rands(self, ctx: bytes, prove_seed: bytes) -> list[int]:
        return self.xof.expand_into_vec(self.field, prove_seed,
                                        self.domain_separation_tag(USAGE_PROVE_RANDOMNESS, ctx),
                                        bytes([self.PROOFS]),
                                        self.flp.PROVE_RAND_LEN * self.PROOFS)

    def _query_rands(self, verify_key: bytes, ctx: bytes, nonce: bytes) -> list[int]:
        return self.xof.expand_into_vec(self.field, verify_key,
                                        self.domain_separation_tag(USAGE_QUERY_RANDOMNESS, ctx),
                                        bytes([self.PROOFS]) + nonce,
                                        self.flp.QUERY_RAND_LEN * self.PROOFS)

    def _joint_rand_part(self, ctx: bytes, agg_id: int, blind: bytes,
                         meas_share: list[int], nonce: bytes) -> bytes:
        self._seed(blind, "blind")
        return self.xof.derive_seed(blind,
                                    self.domain_separation_tag(USAGE_JOINT_RAND_PART, ctx),
                                    bytes([agg_id]) + nonce + self.field.encode_vec(meas_share))

    def _joint_rand_seed(self, ctx: bytes, parts: Sequence[bytes]) -> bytes:
        for part in parts:
            self._seed(part, "joint randomness part")
        return self.xof.derive_seed(bytes(self.SEED_SIZE),
                                    self.domain_separation_tag(USAGE_JOINT_RAND_SEED, ctx),
                                    b"".join(parts))

    def _joint_rands(self, ctx: bytes, seed: bytes) -> list[int]:
        return self.xof.expand_into_vec(self.field, seed,
                                        self.domain_separation_tag(USAGE_JOINT_RANDOMNESS, ctx),
                                        bytes([self.PROOFS]),
                                        self.flp.JOINT_RAND_LEN * self.PROOFS)
