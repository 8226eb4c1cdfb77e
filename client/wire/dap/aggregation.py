"""DAP draft-18 messages between the aggregators and to the collector: aggregation jobs
(with the VDAF ping-pong messages they carry) and collection.

Same conventions as `messages.py`: frozen dataclasses, `encode()` / strict `decode()`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

from worktally.client.wire.dap.codec import (
    DapError,
    Reader,
    decode_whole,
    fixed,
    opaque,
    u8,
    u64,
)
from worktally.client.wire.dap.messages import (
    MAX_PAYLOAD,
    REPORT_ID_SIZE,
    TASK_ID_SIZE,
    Extension,
    HpkeCiphertext,
    ReportError,
    ReportMetadata,
    read_extensions,
    write_extensions,
)

CHECKSUM_SIZE = 32


class BatchMode(IntEnum):
    """DAP's batch modes plus worktally's private one: a batch is (task, release window)."""

    TIME_INTERVAL = 1
    LEADER_SELECTED = 2
    WORKTALLY_WINDOW = 0xFE


class PingPongType(IntEnum):
    """VDAF draft-20 §5.7 ping-pong message types."""

    INITIALIZE = 0
    CONTINUE = 1
    FINISH = 2


class VerifyRespType(IntEnum):
    CONTINUE = 0
    FINISH = 1
    REJECT = 2


@dataclass(frozen=True)
class PingPong:
    """One ping-pong message: `initialize(verifier_share)`, `continue(message, share)` or
    `finish(message)`; the unused field is empty."""

    type: PingPongType
    verifier_message: bytes = b""
    verifier_share: bytes = b""

    def encode(self) -> bytes:
        out = u8(self.type, "MessageType")
        if self.type in (PingPongType.CONTINUE, PingPongType.FINISH):
            out += opaque(self.verifier_message, 4, "verifier_message", 0, MAX_PAYLOAD)
        if self.type in (PingPongType.INITIALIZE, PingPongType.CONTINUE):
            out += opaque(self.verifier_share, 4, "verifier_share", 0, MAX_PAYLOAD)
        return out

    @classmethod
    def decode(cls, data: bytes) -> PingPong:
        r = Reader(data, "ping-pong Message")
        kind = r.enum(PingPongType, 1, "MessageType")
        message = share = b""
        if kind in (PingPongType.CONTINUE, PingPongType.FINISH):
            message = r.opaque(4, "verifier_message", 0, MAX_PAYLOAD)
        if kind in (PingPongType.INITIALIZE, PingPongType.CONTINUE):
            share = r.opaque(4, "verifier_share", 0, MAX_PAYLOAD)
        r.finish()
        return cls(kind, message, share)


@dataclass(frozen=True)
class ReportShare:
    metadata: ReportMetadata
    public_share: bytes
    encrypted_input_share: HpkeCiphertext

    def write(self) -> bytes:
        return (self.metadata.write() + opaque(self.public_share, 4, "public_share", 0,
                                               MAX_PAYLOAD)
                + self.encrypted_input_share.write())

    @classmethod
    def read(cls, r: Reader) -> ReportShare:
        return cls(ReportMetadata.read(r), r.opaque(4, "public_share", 0, MAX_PAYLOAD),
                   HpkeCiphertext.read(r))


@dataclass(frozen=True)
class VerifyInit:
    report_share: ReportShare
    payload: bytes  # the leader's encoded ping-pong `initialize` message

    def write(self) -> bytes:
        return self.report_share.write() + opaque(self.payload, 4, "payload", 1, MAX_PAYLOAD)

    @classmethod
    def read(cls, r: Reader) -> VerifyInit:
        return cls(ReportShare.read(r), r.opaque(4, "payload", 1, MAX_PAYLOAD))


@dataclass(frozen=True)
class AggregationJobInitReq:
    verification_key_id: int
    agg_param: bytes
    extensions: tuple[Extension, ...]
    verify_inits: tuple[VerifyInit, ...]

    def encode(self) -> bytes:
        return (u8(self.verification_key_id, "verification_key_id")
                + opaque(self.agg_param, 4, "agg_param", 0, MAX_PAYLOAD)
                + write_extensions(self.extensions, "extensions")
                + b"".join(v.write() for v in self.verify_inits))

    @classmethod
    def decode(cls, data: bytes) -> AggregationJobInitReq:
        r = Reader(data, "AggregationJobInitReq")
        key_id = r.u8("verification_key_id")
        agg_param = r.opaque(4, "agg_param", 0, MAX_PAYLOAD)
        extensions = read_extensions(r, "extensions")
        inits = r.rest("verify_inits", VerifyInit.read)
        return cls(key_id, agg_param, extensions, tuple(inits))


@dataclass(frozen=True)
class VerifyResp:
    report_id: bytes
    type: VerifyRespType
    payload: bytes = b""  # continue: the helper's encoded ping-pong message
    error: ReportError | None = None  # reject

    def write(self) -> bytes:
        out = fixed(self.report_id, REPORT_ID_SIZE, "report_id") + u8(self.type, "type")
        if self.type is VerifyRespType.CONTINUE:
            return out + opaque(self.payload, 4, "payload", 1, MAX_PAYLOAD)
        if self.type is VerifyRespType.REJECT:
            if self.error is None:
                raise DapError("a reject VerifyResp needs a ReportError")
            return out + u8(self.error, "report_error")
        return out

    @classmethod
    def read(cls, r: Reader) -> VerifyResp:
        report_id = r.fixed(REPORT_ID_SIZE, "report_id")
        kind = r.enum(VerifyRespType, 1, "VerifyRespType")
        if kind is VerifyRespType.CONTINUE:
            return cls(report_id, kind, r.opaque(4, "payload", 1, MAX_PAYLOAD))
        if kind is VerifyRespType.REJECT:
            return cls(report_id, kind, error=r.enum(ReportError, 1, "ReportError"))
        return cls(report_id, kind)


@dataclass(frozen=True)
class AggregationJobResp:
    verify_resps: tuple[VerifyResp, ...]

    def encode(self) -> bytes:
        return b"".join(v.write() for v in self.verify_resps)

    @classmethod
    def decode(cls, data: bytes) -> AggregationJobResp:
        return cls(tuple(Reader(data, "AggregationJobResp").rest("verify_resps",
                                                                  VerifyResp.read)))


@dataclass(frozen=True)
class Query:
    batch_mode: BatchMode
    config: bytes

    def write(self) -> bytes:
        return u8(self.batch_mode, "batch_mode") + opaque(self.config, 2, "query config")

    @classmethod
    def read(cls, r: Reader) -> Query:
        return cls(r.enum(BatchMode, 1, "BatchMode"), r.opaque(2, "query config"))


# DAP gives BatchSelector the same shape as Query.
BatchSelector = Query


@dataclass(frozen=True)
class CollectionJobReq:
    query: Query
    agg_param: bytes = b""
    extensions: tuple[Extension, ...] = ()

    def write(self) -> bytes:
        return (self.query.write() + opaque(self.agg_param, 4, "agg_param", 0, MAX_PAYLOAD)
                + write_extensions(self.extensions, "extensions"))

    @classmethod
    def read(cls, r: Reader) -> CollectionJobReq:
        return cls(Query.read(r), r.opaque(4, "agg_param", 0, MAX_PAYLOAD),
                   read_extensions(r, "extensions"))

    def encode(self) -> bytes:
        return self.write()

    @classmethod
    def decode(cls, data: bytes) -> CollectionJobReq:
        return decode_whole(data, "CollectionJobReq", cls.read)


@dataclass(frozen=True)
class AggregateShareReq:
    collection_job_req: CollectionJobReq
    batch_selector: Query
    report_count: int
    checksum: bytes

    def encode(self) -> bytes:
        return (self.collection_job_req.write() + self.batch_selector.write()
                + u64(self.report_count, "report_count")
                + fixed(self.checksum, CHECKSUM_SIZE, "checksum"))

    @classmethod
    def decode(cls, data: bytes) -> AggregateShareReq:
        return decode_whole(data, "AggregateShareReq", lambda r: cls(
            CollectionJobReq.read(r), Query.read(r), r.u64("report_count"),
            r.fixed(CHECKSUM_SIZE, "checksum")))


@dataclass(frozen=True)
class AggregateShare:
    encrypted_aggregate_share: HpkeCiphertext

    def encode(self) -> bytes:
        return self.encrypted_aggregate_share.write()

    @classmethod
    def decode(cls, data: bytes) -> AggregateShare:
        return decode_whole(data, "AggregateShare", lambda r: cls(HpkeCiphertext.read(r)))


@dataclass(frozen=True)
class AggregateShareAad:
    task_id: bytes
    task_configuration: bytes  # an encoded TaskConfiguration
    collection_job_req: CollectionJobReq

    def encode(self) -> bytes:
        return (fixed(self.task_id, TASK_ID_SIZE, "task_id") + self.task_configuration
                + self.collection_job_req.write())


@dataclass(frozen=True)
class Interval:
    start: int
    duration: int

    def write(self) -> bytes:
        return u64(self.start, "Interval.start") + u64(self.duration, "Interval.duration")

    @classmethod
    def read(cls, r: Reader) -> Interval:
        return cls(r.u64("Interval.start"), r.u64("Interval.duration"))


@dataclass(frozen=True)
class CollectionJobResp:
    report_count: int
    interval: Interval
    leader_encrypted_agg_share: HpkeCiphertext
    helper_encrypted_agg_share: HpkeCiphertext

    def encode(self) -> bytes:
        return (u64(self.report_count, "report_count") + self.interval.write()
                + self.leader_encrypted_agg_share.write()
                + self.helper_encrypted_agg_share.write())

    @classmethod
    def decode(cls, data: bytes) -> CollectionJobResp:
        return decode_whole(data, "CollectionJobResp", lambda r: cls(
            r.u64("report_count"), Interval.read(r), HpkeCiphertext.read(r),
            HpkeCiphertext.read(r)))


def checksum_of(report_ids: list[bytes]) -> bytes:
    """DAP's batch checksum: the XOR of SHA-256(report id) over the batch's reports."""
    acc = 0
    for rid in report_ids:
        acc ^= int.from_bytes(hashlib.sha256(rid).digest(), "big")
    return acc.to_bytes(CHECKSUM_SIZE, "big")


def xor_checksum(checksum: bytes, report_id: bytes) -> bytes:
    """Fold one more report id into a checksum."""
    digest = hashlib.sha256(report_id).digest()
    return bytes(a ^ b for a, b in zip(fixed(checksum, CHECKSUM_SIZE, "checksum"), digest,
                                       strict=True))


__all__ = [
    "CHECKSUM_SIZE",
    "TASK_ID_SIZE",
    "AggregateShare",
    "AggregateShareAad",
    "AggregateShareReq",
    "AggregationJobInitReq",
    "AggregationJobResp",
    "BatchMode",
    "BatchSelector",
    "CollectionJobReq",
    "CollectionJobResp",
    "Interval",
    "PingPong",
    "PingPongType",
    "Query",
    "ReportShare",
    "VerifyInit",
    "VerifyResp",
    "VerifyRespType",
    "checksum_of",
    "xor_checksum",
]
