"""LSP position arithmetic: lines split the way LSP splits them, columns in the negotiated unit.

Python strings index by code point, LSP by UTF-16 unit unless the client negotiated UTF-8
or UTF-32, so an emoji is one Python character but two (or four) LSP columns; every column
this package computes goes through these helpers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# LSP knows only these three line breaks; str.splitlines() would also split on \x0c, \u2028...
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# LSP position encodings (PositionEncodingKind values); UTF-16 unless negotiated otherwise.
UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


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


def column_len(text: str, encoding: str = UTF16) -> int:
    """Length of `text` in the columns of the negotiated position encoding."""
    if encoding == UTF16:
        return utf16_len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


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


def end_after_insert(start: Pos, text: str, encoding: str = UTF16) -> Pos:
    """Where inserted `text` ends when it is put at `start` (the range an aiEdit would name)."""
    segments = split_lines(text)
    if len(segments) == 1:
        return Pos(start.line, start.character + column_len(text, encoding))
    return Pos(start.line + len(segments) - 1, column_len(segments[-1], encoding))


def content_lines(start: Pos, end: Pos, first_line_len: int) -> LineSpan:
    """The lines that hold text of the span start..end of a document.

    A span that begins at the very end of its first line (an insert starting with a break)
    leaves that line untouched, and one that ends at column 0 of a later line holds nothing
    of that line; both are left out.
    """
    first, last = start.line, end.line
    if end.line > start.line and start.character >= first_line_len:
        first += 1
    if end.line > start.line and end.character == 0:
        last -= 1
    return LineSpan(first, last)
