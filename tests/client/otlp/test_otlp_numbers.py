"""The bounds every OTLP number passes, driven by Hypothesis: any input gives a count in
range or OtlpValueError, never another exception and never a number out of range."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worktally.client.otlp.numbers import (
    MAX_COUNT,
    MICRO,
    OtlpValueError,
    count,
    micro_amount,
    total,
)

anything = st.one_of(st.integers(), st.floats(), st.text(max_size=60), st.booleans(),
                     st.from_regex(r"\A[-+ ]?[0-9]{0,30}(\.[0-9]{0,5})?(e[-+]?[0-9]{1,12})?\Z"))


@given(anything)
def test_count_is_in_range_or_refused(value: str | int | float | bool) -> None:
    try:
        result = count(value, "x")
    except OtlpValueError as exc:
        assert str(exc).startswith("x ")
        return
    assert type(result) is int
    assert 0 <= result <= MAX_COUNT


@given(anything)
def test_micro_amount_is_in_range_or_refused(value: str | int | float | bool) -> None:
    try:
        result = micro_amount(value, "x")
    except OtlpValueError:
        return
    assert type(result) is int
    assert 0 <= result <= MAX_COUNT


@given(st.integers(0, MAX_COUNT))
def test_every_count_in_range_reads_back_from_each_encoding(n: int) -> None:
    assert count(n, "x") == n
    assert count(str(n), "x") == n
    assert count(f" {n} ", "x") == n
    # Below 2^53, so the double of a count is exact.
    assert count(float(n), "x") == n


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=1e9))
def test_micro_amount_rounds_to_the_nearest_millionth(usd: float) -> None:
    assert abs(micro_amount(usd, "x") - usd * MICRO) <= 0.5 + usd * MICRO * 1e-15


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.inf, "not finite"), (-math.inf, "not finite"), (math.nan, "not finite"),
        ("inf", "not finite"), ("Infinity", "not finite"), ("nan", "not finite"),
        ("sNaN", "not finite"), (1e300, "more than 10^15"), ("1e300", "more than 10^15"),
        ("1e999999999", "more than 10^15"), (MAX_COUNT + 1, "more than 10^15"),
        (-5, "negative (-5)"), ("-5", "negative (-5)"), (-0.5, "negative (-0.5)"),
        (2.5, "not a whole number (2.5)"), ("2.5", "not a whole number (2.5)"),
        ("1e-999999999", "not a whole number"), ("12 tokens", "not a number"),
        ("", "not a number"), (True, "a boolean"), ("9" * 41, "text of more than 40 characters"),
    ],
)
def test_each_refusal_says_why(value: str | int | float | bool, reason: str) -> None:
    with pytest.raises(OtlpValueError, match="^" + re.escape(f"tokens is {reason}")):
        count(value, "tokens")


def test_the_edges_are_allowed() -> None:
    assert count(0, "x") == 0
    assert count(-0.0, "x") == 0
    assert count(MAX_COUNT, "x") == MAX_COUNT
    assert count("1e15", "x") == MAX_COUNT
    assert count("12.0", "x") == 12
    assert micro_amount(0.01, "x") == 10_000
    assert micro_amount("2.5", "x") == 2_500_000
    assert total([MAX_COUNT - 1, 1], "x") == MAX_COUNT
    with pytest.raises(OtlpValueError, match=r"^sum is more than"):
        total([MAX_COUNT, 1], "sum")
