"""Where a line of text becomes a line key: normalise, skip trivia, HMAC under a local secret.

Keys never leave the machine. Stripping all whitespace makes a key survive re-indenting
and most formatter runs; HMAC makes a key useless to anyone without this install's secret.

This module is the one rule for which lines count (docs/developer.md, "Which lines count"):
a line counts when it has a key, and every producer (language server, watcher, importers,
browser host) and attribution split text and key lines here, so a count in one place is
a count in every other.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import struct
from collections.abc import Iterable
from pathlib import Path

from worktally.client import paths

SECRET_BYTES = 32
MIN_SIGNIFICANT_CHARS = 4

_SHA256_BLOCK = 64
# A key is the first 8 bytes of the HMAC as a signed big-endian integer.
_FIRST8 = struct.Struct(">q").unpack_from
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
# Lines made only of punctuation carry no authorship signal ("});", "]", "*/").
_PUNCTUATION_ONLY = re.compile(r"^[\W_]*$")
# Keywords that appear alone on a line in many languages.
_TRIVIAL_WORDS = frozenset(
    {
        "else", "else:", "try:", "finally:", "end", "fi", "done", "esac", "pass", "break",
        "continue", "return", "return;", "break;", "continue;", "default:", "begin", "then",
        "do", "}else{", "}else", "else{", "{", "}", "endif", "endfor", "endwhile", "public:",
        "private:", "protected:", "#endif", "@end", "except:", "null", "none", "true", "false",
    }
)


_TRIVIAL_MAX = max(map(len, _TRIVIAL_WORDS))


def normalise(line: str) -> str:
    """Drop all whitespace, so indentation and spacing changes keep the key."""
    # str.split() and the regex's \s agree on every code point; split is ~4x faster.
    return "".join(line.split())


def lines_of(text: str) -> list[str]:
    """A text's lines as git's diff sees them: split at "\n" only.

    A "\r" before the "\n" is whitespace, which `normalise` drops; unlike str.splitlines,
    form feeds and Unicode line separators stay inside their line, as they do in git.
    """
    return text.split("\n")


def is_trivial(normalised: str) -> bool:
    if len(normalised) < MIN_SIGNIFICANT_CHARS:
        return True
    if _PUNCTUATION_ONLY.match(normalised):
        return True
    return normalised.lower() in _TRIVIAL_WORDS


def counts(line: str) -> bool:
    """True when a line counts (it gets a key): not blank, not trivial like `}` or `pass`."""
    return not is_trivial(normalise(line))


def load_or_create_secret(path: Path | None = None) -> bytes:
    """Read the per-install secret, creating it (0600) on first use."""
    target = path or paths.secret_path()
    try:
        data = target.read_bytes()
        if len(data) == SECRET_BYTES:
            return data
    except FileNotFoundError:
        pass
    fresh = secrets.token_bytes(SECRET_BYTES)
    paths.ensure_private_dir(target.parent)
    try:
        # O_EXCL: two processes creating it at once must end up with one secret.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, paths.FILE_MODE)
    except FileExistsError:
        return target.read_bytes()
    try:
        os.write(fd, fresh)
        os.fsync(fd)
    finally:
        os.close(fd)
    return fresh


class LineKeyer:
    """Turns lines into signed 64-bit keys (they fit DuckDB's BIGINT)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        # HMAC's two padded-key states (RFC 2104), hashed once: copying a bare sha256 state
        # per line is ~3x cheaper than hmac.HMAC.copy(), and the result is the same HMAC.
        block = secret if len(secret) <= _SHA256_BLOCK else hashlib.sha256(secret).digest()
        block = block.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))

    def __reduce__(self) -> tuple[type[LineKeyer], tuple[bytes]]:
        # Lets the importers' worker processes (our own children, over a pipe) key lines too.
        return (LineKeyer, (self._secret,))

    def _hmac64(self, norm: str) -> int:
        inner = self._inner.copy()
        inner.update(norm.encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return _FIRST8(outer.digest())[0]

    def key(self, line: str) -> int | None:
        """The key of one line, or None for a trivial line."""
        norm = normalise(line)
        if is_trivial(norm):
            return None
        return self._hmac64(norm)

    def keys(self, lines: Iterable[str]) -> list[int]:
        """Keys of the non-trivial lines, in order (duplicates kept)."""
        # key() and is_trivial() inlined, names bound once: importers key hundreds of
        # thousands of lines per run, and the call overhead was half of the cost.
        out: list[int] = []
        append = out.append
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        punctuation_only, trivial_words = _PUNCTUATION_ONLY.match, _TRIVIAL_WORDS
        for line in lines:
            norm = "".join(line.split())
            size = len(norm)
            # is_trivial(norm): a line that starts with a letter or digit is not punctuation
            # only (\w is isalnum() or "_"), and lower() never shortens a line, so one longer
            # than every trivial word is none of them.
            if (size < MIN_SIGNIFICANT_CHARS
                    or (not norm[0].isalnum() and punctuation_only(norm))
                    or (size <= _TRIVIAL_MAX and norm.lower() in trivial_words)):
                continue
            inner = inner_copy()
            inner.update(norm.encode("utf-8", "surrogatepass"))
            outer = outer_copy()
            outer.update(inner.digest())
            append(_FIRST8(outer.digest())[0])
        return out

    def keys_of_text(self, text: str) -> list[int]:
        """Keys of a whole text's counted lines (split as `lines_of` does)."""
        return self.keys(lines_of(text))

    def label(self, value: str) -> str:
        """A keyed, non-reversible id for a path or repo name (16 hex chars)."""
        # The same HMAC as hmac.new(secret, ...), from the two padded-key states.
        inner = self._inner.copy()
        inner.update(b"\x00label\x00" + value.encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:16]


def default_keyer() -> LineKeyer:
    return LineKeyer(load_or_create_secret())
