"""Extendable-output functions of the draft: XofTurboShake128 (Prio3's) and
XofFixedKeyAes128, plus the domain-separation tag format.

An XOF is built from a seed, a domain-separation tag and a binder string and then squeezed
for bytes, seeds or field vectors. TurboSHAKE128 (RFC 9861) comes from pycryptodome; its
object keeps the sponge state, so successive `next` calls continue one output stream as
the draft's definition requires.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from Crypto.Cipher import AES
from Crypto.Hash import TurboSHAKE128

from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field

VERSION = 18  # the draft's VERSION constant, bound into every domain-separation tag


def format_dst(algo_class: int, algo: int, usage: int) -> bytes:
    """VERSION, class (0 for VDAFs), algorithm id and usage, big-endian."""
    if not (0 <= algo_class < 2**8 and 0 <= algo < 2**32 and 0 <= usage < 2**16):
        raise VdafError("domain separation tag parameter out of range")
    return (VERSION.to_bytes(1, "big") + algo_class.to_bytes(1, "big")
            + algo.to_bytes(4, "big") + usage.to_bytes(2, "big"))


class Xof(ABC):
    """The draft's XOF interface."""

    SEED_SIZE: int

    @abstractmethod
    def __init__(self, seed: bytes, dst: bytes, binder: bytes) -> None: ...

    @abstractmethod
    def next(self, length: int) -> bytes:
        """The next `length` bytes of the output stream."""

    @classmethod
    def derive_seed(cls, seed: bytes, dst: bytes, binder: bytes) -> bytes:
        return cls(seed, dst, binder).next(cls.SEED_SIZE)

    def next_vec(self, field: Field, length: int) -> list[int]:
        """`length` field elements by rejection sampling the stream.

        Each candidate is ENCODED_SIZE little-endian bytes masked to the modulus's bit
        length; candidates >= MODULUS are skipped. The bytes for all `length` candidates
        are squeezed at once (rejections are rare: ~2**-32 for both fields) and only the
        shortfall is squeezed again, which yields exactly the draft's stream order.
        """
        size, p = field.ENCODED_SIZE, field.MODULUS
        mask = (1 << p.bit_length()) - 1
        from_bytes = int.from_bytes
        data = self.next(length * size)
        vec = [from_bytes(data[i:i + size], "little") & mask
               for i in range(0, length * size, size)]
        if not vec or max(vec) < p:  # the common case: no candidate rejected
            return vec
        vec = [x for x in vec if x < p]
        while len(vec) < length:
            x = from_bytes(self.next(size), "little") & mask
            if x < p:
                vec.append(x)
        return vec

    @classmethod
    def expand_into_vec(cls, field: Field, seed: bytes, dst: bytes, binder: bytes,
                        length: int) -> list[int]:
        return cls(seed, dst, binder).next_vec(field, length)


class XofTurboShake128(Xof):
    """TurboSHAKE128 with domain byte 1 over len(dst) || dst || len(seed) || seed || binder."""

    SEED_SIZE = 32

    def __init__(self, seed: bytes, dst: bytes, binder: bytes) -> None:
        if len(seed) > 255:
            raise VdafError("XofTurboShake128 seed is longer than 255 bytes")
        if len(dst) > 65535:
            raise VdafError("XofTurboShake128 dst is longer than 65535 bytes")
        self._sponge = TurboSHAKE128.new(domain=1)
        self._sponge.update(len(dst).to_bytes(2, "little") + dst
                            + len(seed).to_bytes(1, "little") + seed + binder)

    def next(self, length: int) -> bytes:
        return self._sponge.read(length) if length else b""


class XofFixedKeyAes128(Xof):
    """Fixed-key AES-128 in a circular correlation-robust hash mode (draft section
    "XofFixedKeyAes128"); the key is TurboSHAKE128(domain 2) of the dst and binder.

    Only Poplar1 uses this XOF; it is here because its test vector is cheap to pass.
    """

    SEED_SIZE = 16

    def __init__(self, seed: bytes, dst: bytes, binder: bytes) -> None:
        if len(seed) != self.SEED_SIZE:
            raise VdafError("XofFixedKeyAes128 seed must be 16 bytes")
        if len(dst) > 65535:
            raise VdafError("XofFixedKeyAes128 dst is longer than 65535 bytes")
        keyer = TurboSHAKE128.new(domain=2)
        keyer.update(len(dst).to_bytes(2, "little") + dst + binder)
        self._cipher = AES.new(keyer.read(16), AES.MODE_ECB)
        self._seed = int.from_bytes(seed, "little")
        self._consumed = 0

    def next(self, length: int) -> bytes:
        start, end = self._consumed, self._consumed + length
        self._consumed = end
        first, last = start // 16, end // 16  # the draft hashes blocks first..last
        sigma = bytearray()
        for i in range(first, last + 1):
            block = (self._seed ^ i).to_bytes(16, "little")
            lo, hi = block[:8], block[8:]
            sigma += hi + bytes(a ^ b for a, b in zip(hi, lo, strict=True))
        encrypted = self._cipher.encrypt(bytes(sigma))  # one ECB call for all blocks
        hashed = bytes(a ^ b for a, b in zip(encrypted, sigma, strict=True))
        offset = start % 16
        return hashed[offset:offset + length]
