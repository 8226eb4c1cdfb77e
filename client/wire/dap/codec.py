"""TLS presentation-language encoding (RFC 8446 §3), strict: every decoder takes hostile bytes.

A `Reader` walks one message and raises `DapError` for anything that is not exactly a valid
encoding: a length prefix beyond the data or outside the field's bounds, a value of an enum it
does not know, or bytes left over at the end. Nothing here raises IndexError or struct.error.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar

from worktally.client.wire.errors import WireError

E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")


class DapError(WireError):
    """A DAP message or parameter that is not well-formed; the message says which and why."""


class Reader:
    """A cursor over one encoded message; `what` names the message in every error."""

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DapError(f"{what} must be bytes")
        self._data = bytes(data)
        self._pos = 0
        self.what = what

    def _take(self, n: int, field: str) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise DapError(f"{self.what}: {field} runs past the end of the message")
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self._take(size, field), "big")

    def u8(self, field: str) -> int:
        return self.uint(1, field)

    def u16(self, field: str) -> int:
        return self.uint(2, field)

    def u32(self, field: str) -> int:
        return self.uint(4, field)

    def u64(self, field: str) -> int:
        return self.uint(8, field)

    def fixed(self, n: int, field: str) -> bytes:
        return self._take(n, field)

    def opaque(self, prefix: int, field: str, min_len: int = 0,
               max_len: int | None = None) -> bytes:
        """A variable-length byte string with a `prefix`-byte length."""
        length = self.uint(prefix, f"{field} length")
        upper = (1 << (8 * prefix)) - 1 if max_len is None else max_len
        if not min_len <= length <= upper:
            raise DapError(f"{self.what}: {field} is {length} bytes, outside "
                           f"[{min_len}, {upper}]")
        return self._take(length, field)

    def enum(self, kind: type[E], size: int, field: str) -> E:
        value = self.uint(size, field)
        try:
            return kind(value)
        except ValueError as exc:
            raise DapError(f"{self.what}: unknown {field} value {value}") from exc

    def items(self, prefix: int, field: str, read: Callable[[Reader], T],
              min_len: int = 0, max_len: int | None = None) -> list[T]:
        """A vector of structures with a `prefix`-byte length in bytes."""
        body = Reader(self.opaque(prefix, field, min_len, max_len), f"{self.what} {field}")
        out = []
        while not body.at_end():
            out.append(read(body))
        return out

    def rest(self, field: str, read: Callable[[Reader], T]) -> list[T]:
        """Structures up to the end of the message (DAP's `message_length` sequences)."""
        out = []
        while not self.at_end():
            out.append(read(self))
        return out

    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def finish(self) -> None:
        if not self.at_end():
            raise DapError(f"{self.what}: {len(self._data) - self._pos} trailing bytes")


def decode_whole(data: bytes, what: str, read: Callable[[Reader], T]) -> T:
    """Decode one whole message with `read`: bytes left over after it are an error."""
    r = Reader(data, what)
    out = read(r)
    r.finish()
    return out


def uint(value: int, size: int, field: str = "integer") -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << (8 * size):
        raise DapError(f"{field} {value!r} does not fit in {size} bytes")
    return value.to_bytes(size, "big")


def u8(value: int, field: str = "integer") -> bytes:
    return uint(value, 1, field)


def u16(value: int, field: str = "integer") -> bytes:
    return uint(value, 2, field)


def u32(value: int, field: str = "integer") -> bytes:
    return uint(value, 4, field)


def u64(value: int, field: str = "integer") -> bytes:
    return uint(value, 8, field)


def fixed(data: bytes, n: int, field: str) -> bytes:
    if not isinstance(data, bytes) or len(data) != n:
        raise DapError(f"{field} must be exactly {n} bytes")
    return data


def opaque(data: bytes, prefix: int, field: str, min_len: int = 0,
           max_len: int | None = None) -> bytes:
    if not isinstance(data, bytes):
        raise DapError(f"{field} must be bytes")
    upper = (1 << (8 * prefix)) - 1 if max_len is None else max_len
    if not min_len <= len(data) <= upper:
        raise DapError(f"{field} is {len(data)} bytes, outside [{min_len}, {upper}]")
    return len(data).to_bytes(prefix, "big") + data


def f64(value: float, field: str) -> bytes:
    """An IEEE-754 binary64, big-endian: deterministic for any finite float."""
    return struct.pack(">d", value)


def read_f64(r: Reader, field: str) -> float:
    value: float = struct.unpack(">d", r.fixed(8, field))[0]
    return value


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding, as DAP writes ids in resource URLs."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str, size: int, what: str) -> bytes:
    """The inverse of `b64url` for an id of exactly `size` bytes; canonical form only."""
    if not isinstance(text, str) or len(text) > 4 * size:
        raise DapError(f"{what} is not an unpadded base64url id")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DapError(f"{what} is not an unpadded base64url id") from exc
    if len(raw) != size or b64url(raw) != text:
        raise DapError(f"{what} must be {size} bytes in canonical unpadded base64url")
    return raw
