"""pygls's text document with its lines kept between changes.

pygls 2.1 applies an incremental change by splitting the whole text into lines and joining
it again, so every keystroke costs the size of the document. This subclass keeps the lines
and re-splits only the changed ones with their neighbours, which gives the same text and
the same lines (str.splitlines only ever joins a "\\r" to the "\\n" right after it, and the
neighbours carry unchanged breaks); the text is joined again only when someone reads it.
"""

from __future__ import annotations

import types as pytypes
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace


class LineTextDocument(TextDocument):
    """A TextDocument whose incremental changes cost the lines they touch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._line_list: list[str] | None = None
        self._stale = False  # _source lags _line_list until the text is read

    @property
    def source(self) -> str:
        if self._stale:
            assert self._line_list is not None
            self._source = "".join(self._line_list)
            self._stale = False
        return str(TextDocument.source.fget(self))  # type: ignore[attr-defined]

    @property
    def lines(self) -> Sequence[str]:
        return tuple(self._lines())

    def _lines(self) -> list[str]:
        if self._line_list is None:
            self._line_list = self.source.splitlines(True)
        return self._line_list

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        super()._apply_full_change(change)
        self._line_list, self._stale = None, False

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        lines = self._lines()
        text = change.text
        # The same conversion pygls makes (it may clamp the change's own positions).
        span = self._position_codec.range_from_client_units(lines, change.range)
        start, start_col = span.start.line, span.start.character
        end, end_col = span.end.line, span.end.character
        if start == len(lines):  # an edit at the very end of the text, as pygls does it
            self._source = self.source + text
            self._line_list, self._stale = None, False
            return
        # pygls writes every line below `start` or above `end` whole; between them it writes
        # the start line's head, the text and the end line's tail (and nothing when the range
        # is reversed, start > end: both lines are then written whole).
        low, high = min(start, end), max(start, end)
        middle: list[str] = []
        for index in range(low, high + 1):
            line = lines[index]
            if index < start or index > end:
                middle.append(line)
                continue
            if index == start:
                middle.append(line[:start_col])
                middle.append(text)
            if index == end:
                middle.append(line[end_col:])
        first = max(low - 1, 0)
        last = min(high + 1, len(lines) - 1)
        window = "".join((*lines[first:low], *middle, *lines[high + 1 : last + 1]))
        lines[first : last + 1] = window.splitlines(True)
        self._stale = True


def use_line_documents(workspace: Workspace) -> None:
    """Make `workspace` create LineTextDocuments (its documents opened from now on)."""

    def create(self: Workspace, doc_uri: str, source: str | None = None,
               version: int | None = None, language_id: str | None = None) -> TextDocument:
        return LineTextDocument(
            doc_uri, source=source, version=version, language_id=language_id,
            sync_kind=self._sync_kind, position_codec=self._position_codec,
        )

    workspace._create_text_document = pytypes.MethodType(  # type: ignore[method-assign]
        create, workspace
    )
