"""DAP draft-18 messages of the upload interaction, with strict encoders and decoders.

Each message is a frozen dataclass: `encode()` gives its TLS-presentation bytes and
`decode(data)` parses exactly one message (trailing bytes are an error). The `read` /
`write` pairs are the same codecs for embedding one message in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from worktally.client.wire.dap.codec import (
    DapError,
    Reader,
    decode_whole,
    fixed,
    opaque,
    u8,
    u16,
    u64,
)

REPORT_ID_SIZE = 16
TASK_ID_SIZE = 32
# DAP's HpkeCiphertext bounds, and a cap far above any worktally share (a leader share of the
# 8-metric report is ~3 KB) so a hostile length cannot ask for gigabytes.
MAX_PAYLOAD = 1 << 20


class Role(IntEnum):
    COLLECTOR = 0
    CLIENT = 1
    LEADER = 2
    HELPER = 3


class ReportError(IntEnum):
    """Why one report was not accepted or not aggregated (DAP "Report Errors")."""

    RESERVED = 0
    BATCH_COLLECTED = 1
    REPORT_REPLAYED = 2
    REPORT_DROPPED = 3
    HPKE_UNKNOWN_CONFIG_ID = 4
    HPKE_DECRYPT_ERROR = 5
    VDAF_VERIFY_ERROR = 6
    TASK_EXPIRED = 7
    INVALID_MESSAGE = 8
    REPORT_TOO_EARLY = 9
    TASK_NOT_STARTED = 10
    OUTDATED_CONFIG = 11

    @property
    def token(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class HpkeConfig:
    """One aggregator or collector public key with its HPKE algorithm ids."""

    id: int
    kem_id: int
    kdf_id: int
    aead_id: int
    public_key: bytes

    def write(self) -> bytes:
        return (u8(self.id, "HpkeConfig.id") + u16(self.kem_id, "kem_id")
                + u16(self.kdf_id, "kdf_id") + u16(self.aead_id, "aead_id")
                + opaque(self.public_key, 2, "HpkeConfig.public_key", 1))

    @classmethod
    def read(cls, r: Reader) -> HpkeConfig:
        return cls(r.u8("config id"), r.u16("kem_id"), r.u16("kdf_id"), r.u16("aead_id"),
                   r.opaque(2, "public_key", 1))

    def encode(self) -> bytes:
        return self.write()

    @classmethod
    def decode(cls, data: bytes) -> HpkeConfig:
        return decode_whole(data, "HpkeConfig", cls.read)


@dataclass(frozen=True)
class HpkeConfigList:
    """`GET /hpke_config`: configs in decreasing preference; ids are distinct."""

    configs: tuple[HpkeConfig, ...]

    def encode(self) -> bytes:
        body = b"".join(c.write() for c in self.configs)
        _distinct([c.id for c in self.configs], "HpkeConfigList config ids")
        return opaque(body, 2, "HpkeConfigList", 10)

    @classmethod
    def decode(cls, data: bytes) -> HpkeConfigList:
        r = Reader(data, "HpkeConfigList")
        configs = r.items(2, "configs", HpkeConfig.read, 10)
        r.finish()
        _distinct([c.id for c in configs], "HpkeConfigList config ids")
        return cls(tuple(configs))


@dataclass(frozen=True)
class HpkeCiphertext:
    config_id: int
    enc: bytes
    payload: bytes

    def write(self) -> bytes:
        return (u8(self.config_id, "config_id") + opaque(self.enc, 2, "enc", 1)
                + opaque(self.payload, 4, "payload", 1, MAX_PAYLOAD))

    @classmethod
    def read(cls, r: Reader) -> HpkeCiphertext:
        return cls(r.u8("config_id"), r.opaque(2, "enc", 1),
                   r.opaque(4, "payload", 1, MAX_PAYLOAD))

    def encode(self) -> bytes:
        return self.write()

    @classmethod
    def decode(cls, data: bytes) -> HpkeCiphertext:
        return decode_whole(data, "HpkeCiphertext", cls.read)


@dataclass(frozen=True)
class Extension:
    """A report extension (public in the metadata, private in a plaintext input share)."""

    type: int
    data: bytes

    def write(self) -> bytes:
        return u16(self.type, "extension_type") + opaque(self.data, 2, "extension_data")

    @classmethod
    def read(cls, r: Reader) -> Extension:
        return cls(r.u16("extension_type"), r.opaque(2, "extension_data"))


def write_extensions(extensions: tuple[Extension, ...], field: str) -> bytes:
    return opaque(b"".join(e.write() for e in extensions), 2, field)


def read_extensions(r: Reader, field: str) -> tuple[Extension, ...]:
    return tuple(r.items(2, field, Extension.read))


def check_extensions(extensions: tuple[Extension, ...], known: set[int], field: str) -> None:
    """DAP's validation: known types only, in strictly increasing order (so no repeats)."""
    previous = -1
    for ext in extensions:
        if ext.type not in known:
            raise DapError(f"{field}: unsupported extension type {ext.type:#06x}")
        if ext.type <= previous:
            raise DapError(f"{field}: extensions are not in strictly increasing order")
        previous = ext.type


@dataclass(frozen=True)
class ReportMetadata:
    report_id: bytes
    time: int
    public_extensions: tuple[Extension, ...] = ()

    def write(self) -> bytes:
        return (fixed(self.report_id, REPORT_ID_SIZE, "report_id") + u64(self.time, "time")
                + write_extensions(self.public_extensions, "public_extensions"))

    @classmethod
    def read(cls, r: Reader) -> ReportMetadata:
        return cls(r.fixed(REPORT_ID_SIZE, "report_id"), r.u64("time"),
                   read_extensions(r, "public_extensions"))


@dataclass(frozen=True)
class Report:
    metadata: ReportMetadata
    public_share: bytes
    leader_encrypted_input_share: HpkeCiphertext
    helper_encrypted_input_share: HpkeCiphertext

    def write(self) -> bytes:
        return (self.metadata.write() + opaque(self.public_share, 4, "public_share", 0,
                                               MAX_PAYLOAD)
                + self.leader_encrypted_input_share.write()
                + self.helper_encrypted_input_share.write())

    @classmethod
    def read(cls, r: Reader) -> Report:
        return cls(ReportMetadata.read(r), r.opaque(4, "public_share", 0, MAX_PAYLOAD),
                   HpkeCiphertext.read(r), HpkeCiphertext.read(r))

    def encode(self) -> bytes:
        return self.write()

    @classmethod
    def decode(cls, data: bytes) -> Report:
        return decode_whole(data, "Report", cls.read)


@dataclass(frozen=True)
class UploadRequest:
    """One or more reports, up to the end of the HTTP content."""

    reports: tuple[Report, ...]

    def encode(self) -> bytes:
        if not self.reports:
            raise DapError("an UploadRequest carries at least one report")
        return b"".join(rep.write() for rep in self.reports)

    @classmethod
    def decode(cls, data: bytes) -> UploadRequest:
        r = Reader(data, "UploadRequest")
        reports = r.rest("reports", Report.read)
        if not reports:
            raise DapError("UploadRequest: no reports")
        return cls(tuple(reports))


@dataclass(frozen=True)
class ReportUploadStatus:
    report_id: bytes
    error: ReportError

    def write(self) -> bytes:
        return fixed(self.report_id, REPORT_ID_SIZE, "report_id") + u8(self.error, "error")

    @classmethod
    def read(cls, r: Reader) -> ReportUploadStatus:
        return cls(r.fixed(REPORT_ID_SIZE, "report_id"), r.enum(ReportError, 1, "ReportError"))


@dataclass(frozen=True)
class UploadErrors:
    """The reports of an upload that were not accepted, in request order."""

    statuses: tuple[ReportUploadStatus, ...]

    def encode(self) -> bytes:
        return b"".join(s.write() for s in self.statuses)

    @classmethod
    def decode(cls, data: bytes) -> UploadErrors:
        return cls(tuple(Reader(data, "UploadErrors").rest("status", ReportUploadStatus.read)))


@dataclass(frozen=True)
class InputShareAad:
    """What an input share's seal is bound to: the task (id and full configuration), the
    report's metadata and its public share."""

    task_id: bytes
    task_configuration: bytes  # an encoded TaskConfiguration
    metadata: ReportMetadata
    public_share: bytes

    def encode(self) -> bytes:
        return (fixed(self.task_id, TASK_ID_SIZE, "task_id") + self.task_configuration
                + self.metadata.write() + opaque(self.public_share, 4, "public_share"))


@dataclass(frozen=True)
class PlaintextInputShare:
    private_extensions: tuple[Extension, ...]
    payload: bytes

    def encode(self) -> bytes:
        return (write_extensions(self.private_extensions, "private_extensions")
                + opaque(self.payload, 4, "payload", 1, MAX_PAYLOAD))

    @classmethod
    def decode(cls, data: bytes) -> PlaintextInputShare:
        return decode_whole(data, "PlaintextInputShare", lambda r: cls(
            read_extensions(r, "private_extensions"), r.opaque(4, "payload", 1, MAX_PAYLOAD)))


def _distinct(values: list[int], what: str) -> None:
    if len(set(values)) != len(values):
        raise DapError(f"{what} must be distinct")
