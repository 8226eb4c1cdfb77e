"""DAP messages: every encoder round-trips through its decoder, and every decoder given
arbitrary or mangled bytes raises only DapError."""

from __future__ import annotations

from typing import Any

import dap_support as s
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worktally.client.wire.dap import DapError, b64url, from_b64url
from worktally.client.wire.dap.aggregation import (
    AggregateShare,
    AggregateShareReq,
    AggregationJobInitReq,
    AggregationJobResp,
    CollectionJobReq,
    CollectionJobResp,
    PingPong,
    VerifyResp,
    VerifyRespType,
    checksum_of,
    xor_checksum,
)
from worktally.client.wire.dap.codec import Reader, opaque
from worktally.client.wire.dap.messages import (
    Extension,
    HpkeCiphertext,
    HpkeConfig,
    HpkeConfigList,
    PlaintextInputShare,
    Report,
    ReportError,
    ReportMetadata,
    UploadErrors,
    UploadRequest,
    check_extensions,
)
from worktally.client.wire.dap.task import TaskConfig

CASES: list[tuple[Any, Any]] = [
    (s.configs, HpkeConfig),
    (s.config_lists, HpkeConfigList),
    (s.ciphertexts, HpkeCiphertext),
    (s.reports, Report),
    (s.uploads, UploadRequest),
    (s.upload_errors, UploadErrors),
    (s.plaintext_shares, PlaintextInputShare),
    (s.ping_pongs, PingPong),
    (s.job_inits, AggregationJobInitReq),
    (s.job_resps, AggregationJobResp),
    (s.collection_reqs, CollectionJobReq),
    (s.share_reqs, AggregateShareReq),
    (s.shares, AggregateShare),
    (s.collection_resps, CollectionJobResp),
]
DECODERS = [cls for _, cls in CASES] + [TaskConfig]


@pytest.mark.parametrize(("strategy", "cls"), CASES, ids=[c.__name__ for _, c in CASES])
def test_every_message_round_trips(strategy: Any, cls: Any) -> None:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(message: Any) -> None:
        data = message.encode()
        assert cls.decode(data) == message
        assert cls.decode(data).encode() == data

    check()


@pytest.mark.parametrize("cls", DECODERS, ids=[c.__name__ for c in DECODERS])
def test_random_bytes_only_ever_raise_dap_error(cls: Any) -> None:
    @settings(max_examples=300)
    @given(st.binary(max_size=200))
    def check(data: bytes) -> None:
        try:
            cls.decode(data)
        except DapError:
            pass

    check()


@pytest.mark.parametrize(("strategy", "cls"), CASES, ids=[c.__name__ for _, c in CASES])
def test_mangled_messages_only_ever_raise_dap_error(strategy: Any, cls: Any) -> None:
    """Truncations, extensions and byte flips of valid encodings: decoded or DapError."""

    @settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy, st.data())
    def check(message: Any, data: st.DataObject) -> None:
        raw = bytearray(message.encode())
        op = data.draw(st.sampled_from(["cut", "extend", "flip"]))
        if op == "cut" and raw:
            raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
        elif op == "extend":
            raw += data.draw(st.binary(min_size=1, max_size=4))
        elif raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= data.draw(st.integers(1, 255))
        try:
            cls.decode(bytes(raw))
        except DapError:
            pass

    check()


def test_trailing_bytes_are_refused() -> None:
    config = HpkeConfig(1, 0x20, 1, 1, b"k" * 32)
    with pytest.raises(DapError, match="trailing"):
        HpkeConfig.decode(config.encode() + b"\x00")
    with pytest.raises(DapError, match="trailing"):
        PingPong.decode(PingPong(s.PingPongType.FINISH, b"m").encode() + b"x")


def test_lengths_outside_their_bounds_are_refused() -> None:
    # HpkeConfigList<10..2^16-1>: an empty list is malformed.
    with pytest.raises(DapError, match="outside"):
        HpkeConfigList.decode(b"\x00\x00")
    # HpkeCiphertext.enc<1..2^16-1>: empty enc.
    with pytest.raises(DapError, match="enc is 0 bytes"):
        HpkeCiphertext.decode(b"\x01\x00\x00\x00\x00\x00\x01x")
    # A length prefix beyond the data.
    with pytest.raises(DapError, match="past the end"):
        HpkeCiphertext.decode(b"\x01\x00\x05ab")
    # A payload length above the cap is refused before anything is read.
    with pytest.raises(DapError, match="outside"):
        HpkeCiphertext.decode(b"\x01\x00\x01e" + (2**31).to_bytes(4, "big"))
    with pytest.raises(DapError):
        UploadRequest.decode(b"")


def test_unknown_enum_values_are_refused() -> None:
    rid = bytes(16)
    with pytest.raises(DapError, match="unknown VerifyRespType value 3"):
        AggregationJobResp.decode(rid + b"\x03")
    with pytest.raises(DapError, match="unknown ReportError value 12"):
        AggregationJobResp.decode(rid + b"\x02\x0c")
    with pytest.raises(DapError, match="unknown ReportError"):
        UploadErrors.decode(rid + b"\xff")
    with pytest.raises(DapError, match="unknown BatchMode value 9"):
        CollectionJobReq.decode(b"\x09\x00\x00" + bytes(4) + b"\x00\x00")
    with pytest.raises(DapError, match="unknown MessageType"):
        PingPong.decode(b"\x07")


def test_duplicate_hpke_config_ids_are_refused() -> None:
    a, b = HpkeConfig(3, 0x20, 1, 1, b"a" * 32), HpkeConfig(3, 0x20, 1, 1, b"b" * 32)
    body = opaque(a.encode() + b.encode(), 2, "list")
    with pytest.raises(DapError, match="distinct"):
        HpkeConfigList.decode(body)
    with pytest.raises(DapError, match="distinct"):
        HpkeConfigList((a, b)).encode()


def test_encoders_refuse_values_that_do_not_fit() -> None:
    with pytest.raises(DapError):
        ReportMetadata(b"short", 1).write()
    with pytest.raises(DapError):
        ReportMetadata(bytes(16), 2**64).write()
    with pytest.raises(DapError):
        VerifyResp(bytes(16), VerifyRespType.REJECT).write()
    with pytest.raises(DapError):
        UploadRequest(()).encode()


def test_extension_checks() -> None:
    check_extensions((Extension(1, b""), Extension(5, b"")), {1, 5}, "exts")
    with pytest.raises(DapError, match="unsupported"):
        check_extensions((Extension(2, b""),), {1}, "exts")
    with pytest.raises(DapError, match="increasing"):
        check_extensions((Extension(5, b""), Extension(1, b"")), {1, 5}, "exts")
    with pytest.raises(DapError, match="increasing"):
        check_extensions((Extension(1, b""), Extension(1, b"")), {1}, "exts")


def test_report_error_tokens_match_the_draft() -> None:
    assert ReportError.REPORT_REPLAYED.token == "report_replayed"
    assert [int(e) for e in ReportError] == list(range(12))


def test_checksum_is_an_order_free_xor() -> None:
    ids = [bytes([i]) * 16 for i in range(5)]
    folded = bytes(32)
    for rid in reversed(ids):
        folded = xor_checksum(folded, rid)
    assert folded == checksum_of(ids)
    assert checksum_of([]) == bytes(32)
    assert xor_checksum(checksum_of(ids), ids[0]) == checksum_of(ids[1:])


@given(st.binary(min_size=1, max_size=40))
def test_b64url_ids(raw: bytes) -> None:
    text = b64url(raw)
    assert "=" not in text and "+" not in text and "/" not in text
    assert from_b64url(text, len(raw), "id") == raw


@pytest.mark.parametrize("text", ["", "AAAA=", "a+b/", "!!!!", "A" * 200, "AAAAAAAAAAAAAAAAAAAAAB"])
def test_b64url_refuses_non_canonical_ids(text: str) -> None:
    with pytest.raises(DapError):
        from_b64url(text, 16, "report id")


def test_reader_refuses_non_bytes() -> None:
    with pytest.raises(DapError):
        Reader("text", "x")  # type: ignore[arg-type]
