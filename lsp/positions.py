"""LSP position arithmetic: lines split the way LSP splits them, columns in UTF-16 code units.

Python strings index by code point, LSP by UTF-16 unit, so an emoji is one Python character
but two LSP columns; every column this package computes goes through these helpers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# LSP knows only these three line breaks; str.splitlines() would also split on \x0c, \u2028...
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, order=True)
class Pos:
    """A zero-based LSP position (line, UTF-16 column)."""

    line: int
    character: int


@dataclass(frozen=True)
class LineSpan:
    """An inclusive range of line numbers; `last < first` means no line at all."""

    first: int
    last: int

    @property
    def empty(self) -> bool:
        return self.last < self.first

    def overlaps(self, other: LineSpan) -> bool:
        if self.empty or other.empty:
            return False
        return self.first <= other.last and other.first <= self.last

    def clamp(self, line_count: int) -> LineSpan:
        return LineSpan(max(self.first, 0), min(self.last, line_count - 1))


def split_lines(text: str) -> list[str]:
    """The LSP lines of `text`, without their breaks; n breaks always give n + 1 lines."""
    return _LINE_BREAK.split(text)


def count_breaks(text: str) -> int:
    if "\r" not in text:
        return text.count("\n")
    return len(_LINE_BREAK.findall(text))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: characters beyond the BMP (emoji, rare CJK) count twice."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def utf16_to_index(line: str, units: int) -> int:
    """The code-point index of UTF-16 column `units` in `line`, clamped to the line's end.

    A column that falls inside a surrogate pair rounds up to the end of that character,
    so a slice never splits an emoji.
    """
    if units <= 0:
        return 0
    if line.isascii():
        return min(units, len(line))
    seen = 0
    for index, char in enumerate(line):
        if seen >= units:
            return index
        seen += 2 if ord(char) > 0xFFFF else 1
    return len(line)


def index_to_utf16(line: str, index: int) -> int:
    """The UTF-16 column of code-point `index` in `line`."""
    return utf16_len(line[: max(index, 0)])


def end_after_insert(start: Pos, text: str) -> Pos:
    """Where inserted `text` ends when it is put at `start` (the range an aiEdit would name)."""
    segments = split_lines(text)
    if len(segments) == 1:
        return Pos(start.line, start.character + utf16_len(text))
    return Pos(start.line + len(segments) - 1, utf16_len(segments[-1]))


def content_lines(start: Pos, end: Pos, first_line_utf16_len: int) -> LineSpan:
    """The lines that hold text of the span start..end of a document.

    A span that begins at the very end of its first line (an insert starting with a break)
    leaves that line untouched, and one that ends at column 0 of a later line holds nothing
    of that line; both are left out.
    """
    first, last = start.line, end.line
    if end.line > start.line and start.character >= first_line_utf16_len:
        first += 1
    if end.line > start.line and end.character == 0:
        last -= 1
    return LineSpan(first, last)
