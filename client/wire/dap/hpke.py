"""HPKE for DAP: key pairs with their configs, and seal/open of input and aggregate shares.

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (DAP's mandatory suite), from
`cryptography`'s `hazmat.primitives.hpke`.

One deviation from DAP, forced by that API: its single-shot `encrypt`/`decrypt` take an
`info` but no AEAD associated data. RFC 9180 §8.1 says single-shot users should carry
auxiliary authenticated data in `info`, so the AAD DAP defines (InputShareAad,
AggregateShareAad) is appended to DAP's info string: `info || aad`. Both are authenticated
through the key schedule, so a share opens only under exactly the task, metadata and public
share it was sealed with, as in DAP; only byte-level interop with other DAP implementations
differs. DAP's info strings are fixed-length per role, so `info || aad` is unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from worktally.client.wire.dap.aggregation import AggregateShareAad
from worktally.client.wire.dap.codec import DapError
from worktally.client.wire.dap.messages import (
    HpkeCiphertext,
    HpkeConfig,
    HpkeConfigList,
    InputShareAad,
    PlaintextInputShare,
    Role,
)

KEM_X25519_HKDF_SHA256 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_128_GCM = 0x0001
ENC_SIZE = 32  # an X25519 encapsulated key
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
_INPUT_SHARE = b"dap-18 input share"
_AGGREGATE_SHARE = b"dap-18 aggregate share"


class HpkeOpenError(DapError):
    """A ciphertext that is not for this key, or was altered, or was bound to other data."""


class UnknownHpkeConfig(HpkeOpenError):
    """A ciphertext names an HPKE config id this party does not hold."""


def supported(config: HpkeConfig) -> bool:
    return (config.kem_id, config.kdf_id, config.aead_id) == (
        KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM) and len(
            config.public_key) == 32


def choose_config(configs: HpkeConfigList) -> HpkeConfig:
    """The first config whose algorithms this code implements (DAP: in preference order)."""
    for config in configs.configs:
        if supported(config):
            return config
    raise DapError("no HPKE config with X25519 / HKDF-SHA256 / AES-128-GCM was offered")


@dataclass(frozen=True)
class HpkeKeyPair:
    """A private key and the public config that names it."""

    config: HpkeConfig
    private_key: X25519PrivateKey

    @classmethod
    def generate(cls, config_id: int) -> HpkeKeyPair:
        return cls.from_private_bytes(config_id, _raw_private(X25519PrivateKey.generate()))

    @classmethod
    def from_private_bytes(cls, config_id: int, raw: bytes) -> HpkeKeyPair:
        key = X25519PrivateKey.from_private_bytes(raw)
        public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
        config = HpkeConfig(config_id, KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256,
                            AEAD_AES_128_GCM, public)
        return cls(config, key)

    def private_bytes(self) -> bytes:
        return _raw_private(self.private_key)


def input_share_info(server_role: Role) -> bytes:
    return _INPUT_SHARE + bytes([Role.CLIENT, server_role])


def aggregate_share_info(server_role: Role) -> bytes:
    return _AGGREGATE_SHARE + bytes([server_role, Role.COLLECTOR])


def seal(config: HpkeConfig, info: bytes, aad: bytes, plaintext: bytes) -> HpkeCiphertext:
    if not supported(config):
        raise DapError(f"HPKE config {config.id} uses algorithms this code does not implement")
    recipient = X25519PublicKey.from_public_bytes(config.public_key)
    sealed = _SUITE.encrypt(plaintext, recipient, info=info + aad)
    return HpkeCiphertext(config.id, sealed[:ENC_SIZE], sealed[ENC_SIZE:])


def open_sealed(keys: dict[int, HpkeKeyPair] | HpkeKeyPair, ciphertext: HpkeCiphertext,
                info: bytes, aad: bytes) -> bytes:
    """Open with the key the ciphertext's config id names; HpkeOpenError on any failure."""
    if isinstance(keys, HpkeKeyPair):
        keys = {keys.config.id: keys}
    pair = keys.get(ciphertext.config_id)
    if pair is None:
        raise UnknownHpkeConfig(f"no HPKE key with config id {ciphertext.config_id}")
    if len(ciphertext.enc) != ENC_SIZE:
        raise HpkeOpenError("the encapsulated key is not an X25519 key")
    try:
        return _SUITE.decrypt(ciphertext.enc + ciphertext.payload, pair.private_key,
                              info=info + aad)
    except (InvalidTag, ValueError) as exc:
        raise HpkeOpenError("the share does not open under this key and its bound data "
                            "(altered in transit, or sealed for another task or report)") from exc


def seal_input_share(config: HpkeConfig, server_role: Role, aad: InputShareAad,
                     share: PlaintextInputShare) -> HpkeCiphertext:
    return seal(config, input_share_info(server_role), aad.encode(), share.encode())


def open_input_share(keys: dict[int, HpkeKeyPair] | HpkeKeyPair, server_role: Role,
                     aad: InputShareAad, ciphertext: HpkeCiphertext) -> PlaintextInputShare:
    plain = open_sealed(keys, ciphertext, input_share_info(server_role), aad.encode())
    return PlaintextInputShare.decode(plain)


def seal_aggregate_share(config: HpkeConfig, server_role: Role, aad: AggregateShareAad,
                         agg_share: bytes) -> HpkeCiphertext:
    return seal(config, aggregate_share_info(server_role), aad.encode(), agg_share)


def open_aggregate_share(key: HpkeKeyPair, server_role: Role, aad: AggregateShareAad,
                         ciphertext: HpkeCiphertext) -> bytes:
    return open_sealed(key, ciphertext, aggregate_share_info(server_role), aad.encode())


def _raw_private(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
