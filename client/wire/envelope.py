"""The signed, sealed report envelope: Ed25519-signed by the client, HPKE-sealed to the aggregator.

Period, cohort and schema version travel in a small clear header so the aggregator can route
a report before opening it; the header is the HPKE `info` and part of the signed message, so
changing it breaks both the seal and the signature.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from worktally.client.wire.errors import WireError
from worktally.client.wire.windows import LABEL_PATTERN

MAGIC = b"WTR1"
# A real report is about 600 bytes; the cap keeps a hostile upload from costing memory.
MAX_ENVELOPE_BYTES = 8192
MAX_HEADER_BYTES = 512
_SIGN_DOMAIN = b"worktally/report-signature/v1\x00"
_INFO_DOMAIN = b"worktally/report-seal/v1\x00"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_NONCE = re.compile(r"[0-9a-f]{32}")
_PERIOD = re.compile(LABEL_PATTERN)
_COHORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# The HTTP `Idempotency-Key` sent with an envelope: the same key and bytes again are one
# report. Part of the wire contract: the aggregator refuses any other form.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{8,128}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


class EnvelopeError(WireError):
    """A report envelope could not be accepted; the message says why."""


class MalformedEnvelope(EnvelopeError):
    """The bytes are not a well-formed worktally report envelope."""


class EnvelopeTooLarge(EnvelopeError):
    """The envelope is larger than MAX_ENVELOPE_BYTES."""


class SealError(EnvelopeError):
    """The envelope was not sealed to this aggregator's key, or its header was altered."""


class BadSignature(EnvelopeError):
    """The payload's signature does not verify under the client's enrolled key."""


class UnknownClient(EnvelopeError):
    """The client id inside the envelope is not enrolled here."""


class HeaderMismatch(EnvelopeError):
    """The clear header disagrees with the signed payload (period, cohort or schema)."""


@dataclass(frozen=True)
class ReportPayload:
    """One person's noised report for one release window, exactly as signed by their client."""

    schema_version: int
    cohort: str
    period: str  # the window's label: "2026-W48", "2026-11" or "2026-Q4"
    values: tuple[int, ...]  # measurement.SECURE_METRICS order, clipped, then noised
    epsilon: float
    delta: float
    mechanism: str
    client_id: str
    nonce: str  # 32 hex chars, fresh per report

    def __post_init__(self) -> None:
        check_payload(self)


@dataclass(frozen=True)
class EnvelopeHeader:
    """The clear, authenticated routing header of an envelope."""

    schema_version: int
    cohort: str
    period: str

    def encode(self) -> bytes:
        return _canonical({"cohort": self.cohort, "period": self.period,
                           "schema_version": self.schema_version})


def check_payload(payload: ReportPayload) -> None:
    """Raise MalformedEnvelope unless every field has its exact type and shape."""
    if not _is_int(payload.schema_version):
        raise MalformedEnvelope("schema_version must be an integer")
    if not isinstance(payload.cohort, str) or not _COHORT.fullmatch(payload.cohort):
        raise MalformedEnvelope("cohort must be 1-64 letters, digits, '.', '_' or '-'")
    if not isinstance(payload.period, str) or not _PERIOD.fullmatch(payload.period):
        raise MalformedEnvelope("period must be a window label like 2026-W48, 2026-11 or "
                                "2026-Q4")
    if not isinstance(payload.values, tuple) or not all(_is_int(v) for v in payload.values):
        raise MalformedEnvelope("values must be a tuple of integers")
    if not all(-(2**62) < v < 2**62 for v in payload.values):
        raise MalformedEnvelope("a value is outside the 63-bit range")
    for name in ("epsilon", "delta"):
        value = getattr(payload, name)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < 0:
            raise MalformedEnvelope(f"{name} must be a non-negative number")
    if not isinstance(payload.mechanism, str) or not payload.mechanism:
        raise MalformedEnvelope("mechanism must be a non-empty string")
    if not isinstance(payload.client_id, str) or not 0 < len(payload.client_id) <= 64:
        raise MalformedEnvelope("client_id must be a string of 1-64 characters")
    if not isinstance(payload.nonce, str) or not _NONCE.fullmatch(payload.nonce):
        raise MalformedEnvelope("nonce must be 32 lowercase hex characters")


def is_idempotency_key(key: object) -> bool:
    return isinstance(key, str) and _IDEMPOTENCY_KEY.fullmatch(key) is not None


def seal(payload: ReportPayload, signing_key: Ed25519PrivateKey,
         aggregator_public_key: bytes) -> bytes:
    """Sign `payload` with the client's key and seal it to the aggregator's raw X25519 key."""
    header = EnvelopeHeader(payload.schema_version, payload.cohort, payload.period).encode()
    body = _canonical(_payload_dict(payload))
    signature = signing_key.sign(_SIGN_DOMAIN + header + body)
    inner = _canonical({"payload": _payload_dict(payload),
                        "signature": base64.b64encode(signature).decode()})
    recipient = X25519PublicKey.from_public_bytes(aggregator_public_key)
    sealed = _SUITE.encrypt(inner, recipient, info=_INFO_DOMAIN + header)
    data = MAGIC + struct.pack(">H", len(header)) + header + sealed
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeTooLarge(f"the sealed report is {len(data)} bytes, over the "
                               f"{MAX_ENVELOPE_BYTES}-byte limit; check the schema version")
    return data


def read_header(data: bytes) -> tuple[EnvelopeHeader, bytes, bytes]:
    """Split an envelope into its parsed header, the header's bytes and the sealed part."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeTooLarge(f"envelope is over {MAX_ENVELOPE_BYTES} bytes")
    if len(data) < len(MAGIC) + 2 or not data.startswith(MAGIC):
        raise MalformedEnvelope("not a worktally report envelope (bad magic)")
    (length,) = struct.unpack(">H", data[len(MAGIC):len(MAGIC) + 2])
    start = len(MAGIC) + 2
    if length > MAX_HEADER_BYTES or start + length > len(data):
        raise MalformedEnvelope("envelope header length is out of range")
    raw = data[start:start + length]
    fields = _load_object(raw, "header")
    if set(fields) != {"cohort", "period", "schema_version"}:
        raise MalformedEnvelope("envelope header must have cohort, period and schema_version")
    header = EnvelopeHeader(fields["schema_version"], fields["cohort"], fields["period"])
    if not _is_int(header.schema_version) or not isinstance(header.cohort, str) \
            or not isinstance(header.period, str):
        raise MalformedEnvelope("envelope header fields have the wrong types")
    if raw != header.encode():
        raise MalformedEnvelope("envelope header is not in canonical form")
    return header, raw, data[start + length:]


def open_envelope(data: bytes, aggregator_private_key: X25519PrivateKey,
                  lookup_client_key: Callable[[str], Ed25519PublicKey | None]) -> ReportPayload:
    """Unseal, verify and parse an envelope; raise an EnvelopeError subclass on any fault."""
    header, raw_header, sealed = read_header(data)
    try:
        inner = _SUITE.decrypt(sealed, aggregator_private_key, info=_INFO_DOMAIN + raw_header)
    except (InvalidTag, ValueError) as exc:
        raise SealError("the report was not sealed to this aggregator's key, or its header "
                        "was altered; re-enroll to fetch the current key") from exc
    outer = _load_object(inner, "sealed body")
    if set(outer) != {"payload", "signature"} or not isinstance(outer["payload"], dict) \
            or not isinstance(outer["signature"], str):
        raise MalformedEnvelope("sealed body must hold a payload and a signature")
    payload = _payload_from_dict(outer["payload"])
    try:
        signature = base64.b64decode(outer["signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedEnvelope("signature is not base64") from exc
    key = lookup_client_key(payload.client_id)
    if key is None:
        raise UnknownClient("this client is not enrolled here; enroll again with a token")
    body = _canonical(_payload_dict(payload))
    try:
        key.verify(signature, _SIGN_DOMAIN + raw_header + body)
    except InvalidSignature as exc:
        raise BadSignature("the report's signature does not match the enrolled key") from exc
    if (payload.schema_version, payload.cohort, payload.period) != (
            header.schema_version, header.cohort, header.period):
        raise HeaderMismatch("the envelope header does not match the signed report")
    return payload


def _payload_dict(payload: ReportPayload) -> dict[str, Any]:
    out = asdict(payload)
    out["values"] = list(payload.values)
    return out


def _payload_from_dict(fields: dict[str, Any]) -> ReportPayload:
    expected = set(ReportPayload.__dataclass_fields__)
    if set(fields) != expected:
        raise MalformedEnvelope(f"payload fields must be exactly {sorted(expected)}")
    values = fields["values"]
    if not isinstance(values, list):
        raise MalformedEnvelope("values must be a list of integers")
    return ReportPayload(**{**fields, "values": tuple(values)})


def _canonical(obj: dict[str, Any]) -> bytes:
    # Sorted keys and no spaces: signer and verifier must produce identical bytes.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _load_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedEnvelope(f"envelope {what} is not JSON") from exc
    if not isinstance(obj, dict):
        raise MalformedEnvelope(f"envelope {what} must be a JSON object")
    return obj


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
