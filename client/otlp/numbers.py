"""Bounds on the numbers an OTLP export carries: a count is whole, finite and 0..MAX_COUNT.

A value outside them raises OtlpValueError and the receiver refuses the whole request with
400, so nothing from it is spooled: a number the drain could not store (inf, 1e300) never
reaches the spool.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from worktally.client.errors import WorktallyError

# The largest count (tokens, lines, commits, micro-USD) one value or one summed row may
# hold. Below 2^53, so every allowed count survives a trip through a double exactly, and
# a thousand times any real session, while a week of such rows still fits DuckDB's BIGINT.
MAX_COUNT = 10**15
MAX_COUNT_TEXT = "10^15"
# A count sent as text longer than this is refused unparsed (the longest valid one, with
# sign, exponent and spaces, is far shorter).
MAX_TEXT_CHARS = 40
MICRO = 1_000_000

Number = str | int | float | bool


class OtlpValueError(WorktallyError):
    """A number in an export is outside its bounds; the message names the field."""


def count(value: Number, what: str) -> int:
    """A whole number from 0 to MAX_COUNT, from an int, a double or a decimal string."""
    return _bounded(_exact(value, what), what)


def micro_amount(value: Number, what: str) -> int:
    """A non-negative amount (such as USD) in millionths, rounded; at most MAX_COUNT of them."""
    exact = _exact(value, what)
    if exact.is_finite() and 0 <= exact <= MAX_COUNT:
        exact = (exact * MICRO).to_integral_value()
    return _bounded(exact, what)


def total(parts: tuple[int, ...] | list[int], what: str) -> int:
    """The sum of bounded counts, itself bounded (many points may add up to too much)."""
    return _bounded(Decimal(sum(parts)), what)


def _exact(value: Number, what: str) -> Decimal:
    if isinstance(value, bool):
        raise OtlpValueError(f"{what} is a boolean, not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # Decimal(float) is exact; nan and inf become Decimal's, checked below.
        return Decimal(value) if math.isfinite(value) else Decimal(str(value))
    if len(value) > MAX_TEXT_CHARS:
        raise OtlpValueError(f"{what} is text of more than {MAX_TEXT_CHARS} characters, "
                             "not a number")
    try:
        return Decimal(value.strip())
    except InvalidOperation as exc:
        raise OtlpValueError(f"{what} is not a number") from exc


def _bounded(number: Decimal, what: str) -> int:
    # The order matters: the size check comes before the whole-number check, which would
    # otherwise expand 1e999999999 digit by digit.
    if not number.is_finite():
        raise OtlpValueError(f"{what} is not finite (inf, -inf and nan are refused)")
    if number < 0:
        raise OtlpValueError(f"{what} is negative ({_short(number)})")
    if number > MAX_COUNT:
        raise OtlpValueError(f"{what} is more than {MAX_COUNT_TEXT}")
    if number != number.to_integral_value():
        raise OtlpValueError(f"{what} is not a whole number ({_short(number)})")
    return int(number)


def _short(number: Decimal) -> str:
    return format(number, ".6g")
