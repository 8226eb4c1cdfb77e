"""The envelope: what seals and verifies, and that every tampering is a typed EnvelopeError.

A local-mode report of schema 2: the window's label as period, the 8 noised entries."""

from __future__ import annotations

import base64
import json
import secrets
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from worktally.client.wire import envelope
from worktally.client.wire.envelope import ReportPayload, open_envelope, seal
from worktally.client.wire.measurement import SCHEMA_VERSION

AGG = X25519PrivateKey.generate()
AGG_PUB = AGG.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
CLIENT = Ed25519PrivateKey.generate()


def payload(**changes: object) -> ReportPayload:
    fields: dict[str, object] = dict(
        schema_version=SCHEMA_VERSION, cohort="team-a", period="2026-Q3",
        values=(1, 250, -3, 1, 99, -4000, 12, 7), epsilon=4.0, delta=0.0,
        mechanism="discrete_laplace", client_id="c0ffee",
        nonce=secrets.token_hex(16))
    fields.update(changes)
    return ReportPayload(**fields)  # type: ignore[arg-type]


def known(client_id: str) -> Ed25519PublicKey | None:
    return CLIENT.public_key() if client_id == "c0ffee" else None


def test_seal_then_open_gives_back_the_payload() -> None:
    original = payload()
    data = seal(original, CLIENT, AGG_PUB)
    assert open_envelope(data, AGG, known) == original


def test_the_values_are_not_readable_in_the_sealed_bytes() -> None:
    data = seal(payload(values=(987654321,), client_id="c0ffee"), CLIENT, AGG_PUB)
    assert b"987654321" not in data
    assert b"c0ffee" not in data


def test_the_routing_header_is_readable_but_authenticated() -> None:
    data = seal(payload(), CLIENT, AGG_PUB)
    header, raw, _ = envelope.read_header(data)
    assert (header.cohort, header.period, header.schema_version) == ("team-a", "2026-Q3",
                                                                      SCHEMA_VERSION)
    forged_raw = raw.replace(b"2026-Q3", b"2026-Q2")
    forged = data.replace(raw, forged_raw)
    assert envelope.read_header(forged)[0].period == "2026-Q2"
    with pytest.raises(envelope.SealError):
        open_envelope(forged, AGG, known)


def test_a_report_sealed_to_another_aggregator_does_not_open() -> None:
    other = X25519PrivateKey.generate()
    with pytest.raises(envelope.SealError):
        open_envelope(seal(payload(), CLIENT, AGG_PUB), other, known)


def test_a_report_signed_by_another_key_is_a_bad_signature() -> None:
    forger = Ed25519PrivateKey.generate()
    with pytest.raises(envelope.BadSignature):
        open_envelope(seal(payload(), forger, AGG_PUB), AGG, known)


def test_an_unknown_client_is_named_as_such() -> None:
    with pytest.raises(envelope.UnknownClient):
        open_envelope(seal(payload(client_id="stranger"), CLIENT, AGG_PUB), AGG, known)


def test_a_header_that_disagrees_with_the_signed_payload_is_refused() -> None:
    # A buggy or hostile client seals window Q3 under a Q2 header with a valid signature.
    body = payload()
    header = envelope.EnvelopeHeader(SCHEMA_VERSION, "team-a", "2026-Q2").encode()
    fields = {**body.__dict__, "values": list(body.values)}
    signed = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    signature = CLIENT.sign(envelope._SIGN_DOMAIN + header + signed)
    inner = json.dumps({"payload": fields, "signature": base64.b64encode(signature).decode()},
                       sort_keys=True, separators=(",", ":")).encode()
    sealed = envelope._SUITE.encrypt(inner, AGG.public_key(), info=envelope._INFO_DOMAIN + header)
    data = envelope.MAGIC + struct.pack(">H", len(header)) + header + sealed
    with pytest.raises(envelope.HeaderMismatch):
        open_envelope(data, AGG, known)


def test_oversized_envelopes_are_refused_before_any_work() -> None:
    data = seal(payload(), CLIENT, AGG_PUB) + b"\0" * envelope.MAX_ENVELOPE_BYTES
    with pytest.raises(envelope.EnvelopeTooLarge):
        open_envelope(data, AGG, known)


@pytest.mark.parametrize("period", ["2026-W48", "2026-11", "2026-Q4"])
def test_every_window_kind_can_be_a_period(period: str) -> None:
    data = seal(payload(period=period), CLIENT, AGG_PUB)
    assert open_envelope(data, AGG, known).period == period


@pytest.mark.parametrize("changes", [
    {"nonce": "short"}, {"period": "2026-48"}, {"period": "2026-Q5"}, {"period": "2026-13"},
    {"period": "2026-W48\n"}, {"values": (1, True)}, {"values": [1, 2]},
    {"epsilon": float("nan")}, {"cohort": "../etc"}, {"schema_version": "1"},
])
def test_malformed_payloads_cannot_even_be_built(changes: dict[str, object]) -> None:
    with pytest.raises(envelope.MalformedEnvelope):
        payload(**changes)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_ever_raise_envelope_errors(data: bytes) -> None:
    with pytest.raises(envelope.EnvelopeError):
        open_envelope(data, AGG, known)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_single_bit_flip_is_detected(data: st.DataObject) -> None:
    sealed = bytearray(seal(payload(), CLIENT, AGG_PUB))
    position = data.draw(st.integers(0, len(sealed) * 8 - 1))
    sealed[position // 8] ^= 1 << (position % 8)
    with pytest.raises(envelope.EnvelopeError):
        open_envelope(bytes(sealed), AGG, known)


@pytest.mark.parametrize(("key", "ok"), [
    ("abcdefgh", True), ("0123456789abcdef0123456789abcdef", True), ("a.b:c-d_e", True),
    ("short", False), ("x" * 129, False), ("has space", False), ("ümlaut-key", False),
    (12345678, False),
])
def test_the_idempotency_key_has_one_definition(key: object, ok: bool) -> None:
    assert envelope.is_idempotency_key(key) is ok
    assert envelope.IDEMPOTENCY_KEY_PATTERN.startswith("^")
