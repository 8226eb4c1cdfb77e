"""Line keys stay the textbook HMAC-SHA256 of the whitespace-free line, whatever the speed-ups."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worktally.client.capture.line_keys import LineKeyer, is_trivial, normalise

# Any code point, lone surrogates included (transcripts may carry them; keys use surrogatepass).
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=60)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


def reference_key(secret: bytes, line: str) -> int | None:
    norm = re.sub(r"\s+", "", line)
    if is_trivial(norm):
        return None
    digest = hmac.new(secret, norm.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@settings(max_examples=300)
@given(secret=st.binary(min_size=1, max_size=100), lines=st.lists(ANY_TEXT, max_size=6))
def test_keys_equal_the_reference_hmac_for_any_secret_and_text(secret, lines):
    keyer = LineKeyer(secret)
    expected = [reference_key(secret, line) for line in lines]
    assert [keyer.key(line) for line in lines] == expected
    assert keyer.keys(lines) == [k for k in expected if k is not None]


@settings(max_examples=300)
@given(ANY_TEXT)
def test_normalise_drops_exactly_what_the_regex_whitespace_class_drops(line):
    assert normalise(line) == re.sub(r"\s+", "", line)


def test_unicode_whitespace_is_dropped_like_ascii_whitespace():
    keyer = LineKeyer(b"s" * 32)
    assert keyer.key("value\u3000=\u00a0compute(x)\u2028") == keyer.key("value=compute(x)")
