"""UTF-16 columns and LSP line splitting, checked against pygls's own document model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import TextDocument

from worktally.lsp.positions import (
    LineSpan,
    Pos,
    column_len,
    content_lines,
    count_breaks,
    end_after_insert,
    index_to_utf16,
    split_lines,
    utf16_len,
    utf16_to_index,
)

# Letters, CJK, accents and emoji (outside the BMP: two UTF-16 units each), plus breaks.
CHARS = [*"ab z_(){}=é中文字😀🎉🐍", "\U0001d538"]
ALPHABET = st.sampled_from([*CHARS, "\n", "\r\n"])
LINE_CHARS = st.sampled_from(CHARS)
texts = st.lists(ALPHABET, max_size=30).map("".join)
lines = st.lists(LINE_CHARS, max_size=20).map("".join)


def test_emoji_and_cjk_widths() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("中文") == 2  # BMP: one unit each
    assert utf16_len("😀") == 2  # beyond the BMP: a surrogate pair
    assert utf16_len("x😀中") == 4
    line = "a😀b"
    # Column 2 falls inside the emoji's surrogate pair and rounds up past it.
    assert [utf16_to_index(line, u) for u in range(5)] == [0, 1, 2, 2, 3]
    assert [index_to_utf16(line, i) for i in range(4)] == [0, 1, 3, 4]


def test_column_len_per_negotiated_encoding() -> None:
    text = "a中😀"
    assert column_len(text, "utf-16") == 4
    assert column_len(text, "utf-8") == 1 + 3 + 4
    assert column_len(text, "utf-32") == 3
    assert end_after_insert(Pos(2, 5), "x\n😀😀", "utf-8") == Pos(3, 8)


@given(lines)
def test_utf16_len_matches_the_encoder(line: str) -> None:
    assert utf16_len(line) == len(line.encode("utf-16-le")) // 2


@given(lines, st.data())
def test_index_and_utf16_columns_round_trip(line: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(line)))
    assert utf16_to_index(line, index_to_utf16(line, index)) == index
    assert utf16_to_index(line, 10_000) == len(line)


def test_only_lsp_line_breaks_split() -> None:
    assert split_lines("a\nb\r\nc\rd") == ["a", "b", "c", "d"]
    # str.splitlines would split these; LSP does not.
    assert split_lines("a\u2028b\x0cc") == ["a\u2028b\x0cc"]
    assert split_lines("") == [""]
    assert count_breaks("a\r\nb\n") == 2


@given(lines, texts, st.data())
def test_end_after_insert_names_exactly_the_inserted_text(
    line: str, text: str, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(line)))
    start = Pos(0, index_to_utf16(line, index))
    document = TextDocument("file:///t.txt", line + "\ntail")
    document.apply_change(types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(0, start.character),
                          end=types.Position(0, start.character)),
        text=text,
    ))
    end = end_after_insert(start, text)
    span = types.Range(start=types.Position(start.line, start.character),
                       end=types.Position(end.line, end.character))
    assert document.text_in_client_range(span) == text


def test_content_lines_leave_out_untouched_edge_lines() -> None:
    line = "s = '😀😀'"  # 9 code points, 11 UTF-16 units
    # An insert starting with a break at the end of the line leaves that line alone.
    assert content_lines(Pos(0, 11), Pos(2, 5), utf16_len(line)) == LineSpan(1, 2)
    # Column 9 is inside the line in UTF-16 terms (it is past its end in code points).
    assert content_lines(Pos(0, 9), Pos(2, 5), utf16_len(line)) == LineSpan(0, 2)
    # Ending at column 0 of a line holds nothing of it.
    assert content_lines(Pos(3, 0), Pos(5, 0), 4) == LineSpan(3, 4)
    # Only a break: no line holds inserted text.
    assert content_lines(Pos(0, 11), Pos(1, 0), utf16_len(line)).empty
    assert content_lines(Pos(2, 1), Pos(2, 4), 9) == LineSpan(2, 2)


def test_line_span_overlap_and_clamp() -> None:
    assert LineSpan(1, 3).overlaps(LineSpan(3, 9))
    assert not LineSpan(1, 3).overlaps(LineSpan(4, 9))
    assert not LineSpan(2, 1).overlaps(LineSpan(0, 9))
    assert LineSpan(-2, 50).clamp(10) == LineSpan(0, 9)
