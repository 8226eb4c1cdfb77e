"""Line keys: normalisation, trivial lines, re-indent invariance and key stability."""

from __future__ import annotations

import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worktally.client.capture import line_keys
from worktally.client.capture.line_keys import LineKeyer, is_trivial, normalise

SECRET = b"k" * line_keys.SECRET_BYTES


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


def test_normalise_drops_all_whitespace():
    assert normalise("  return  a +\tb\n") == "returna+b"


@pytest.mark.parametrize("line", ["", "   ", "}", "});", "  ]  ", "else:", "END", "pass", "x=1"])
def test_trivial_lines_have_no_key(line):
    assert LineKeyer(SECRET).key(line) is None


def test_significant_line_has_a_signed_64_bit_key():
    key = LineKeyer(SECRET).key("total = price * quantity")
    assert key is not None
    assert -(2**63) <= key < 2**63


def test_reindent_and_spacing_keep_the_key():
    keyer = LineKeyer(SECRET)
    assert keyer.key("if x > 1:") == keyer.key("        if x>1 :")


def test_keys_are_stable_per_secret_and_differ_across_secrets():
    line = "result = compute(values)"
    assert LineKeyer(SECRET).key(line) == LineKeyer(SECRET).key(line)
    assert LineKeyer(SECRET).key(line) != LineKeyer(b"z" * 32).key(line)


def test_keys_of_text_skips_trivia_and_keeps_duplicates():
    keyer = LineKeyer(SECRET)
    text = "def f(a):\n    return a + 1\n}\n    return a + 1\n"
    keys = keyer.keys_of_text(text)
    assert len(keys) == 3
    assert keys[1] == keys[2]


def test_label_is_keyed_and_does_not_contain_the_value():
    value = "/home/dev/secret-project"
    label = LineKeyer(SECRET).label(value)
    assert len(label) == 16
    assert "secret" not in label
    assert label != LineKeyer(b"z" * 32).label(value)
    # A label must not collide with the line key namespace of the same text.
    assert str(LineKeyer(SECRET).key(value)) != label


def test_secret_is_created_once_and_private():
    first = line_keys.load_or_create_secret()
    second = line_keys.load_or_create_secret()
    assert first == second
    assert len(first) == line_keys.SECRET_BYTES
    mode = stat.S_IMODE(line_keys.paths.secret_path().stat().st_mode)
    assert mode == 0o600


@settings(max_examples=200)
@given(
    line=st.text(min_size=1, max_size=80),
    indent=st.text(alphabet=" \t", max_size=8),
    trailing=st.text(alphabet=" \t", max_size=4),
)
def test_whitespace_around_a_line_never_changes_its_key(line, indent, trailing):
    keyer = LineKeyer(SECRET)
    assert keyer.key(indent + line + trailing) == keyer.key(line)


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_a_key_exists_exactly_when_the_line_is_not_trivial(line):
    key = LineKeyer(SECRET).key(line)
    assert (key is None) == is_trivial(normalise(line))
