"""Fast reading of spool batches for the drain: edit records go straight to columns.

`Spool.read` builds a dataclass per record, which dominated the drain's time on large
backlogs. Here edit records are validated as plain dicts (same rules as `EditEvent`, with
strict types) and appended to column lists; other record types still become dataclasses.
A batch that fails any check raises SpoolError, so the caller quarantines it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from worktally.client.capture.records import (
    EDIT_SOURCES,
    EditEvent,
    RepoRegistration,
    from_dict,
    new_id,
)
from worktally.client.capture.spool import load_batch_document
from worktally.client.errors import SpoolError

# Column order of the `edits` table (keys feed `edit_lines`).
EDIT_COLUMNS = (
    "event_id", "ts", "repo_id", "file_id", "language", "source", "tool", "kind", "model",
    "session_id", "line_count", "origin",
)
# Every list of EditColumns: the table's columns, the keys (for edit_lines) and supersedes.
EDIT_FIELDS = (*EDIT_COLUMNS, "keys", "supersedes")
_OPTIONAL_TEXT = ("repo_id", "tool", "kind", "model", "session_id", "supersedes")
_SOURCES = frozenset(EDIT_SOURCES)
_EDIT = EditEvent.record_type
_REGISTRATION = RepoRegistration.record_type


@dataclass
class EditColumns:
    """Edit rows as parallel lists; `ts` is epoch seconds, `keys` one list per row."""

    event_id: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    repo_id: list[str | None] = field(default_factory=list)
    file_id: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    tool: list[str | None] = field(default_factory=list)
    kind: list[str | None] = field(default_factory=list)
    model: list[str | None] = field(default_factory=list)
    session_id: list[str | None] = field(default_factory=list)
    line_count: list[int] = field(default_factory=list)
    origin: list[str] = field(default_factory=list)
    keys: list[list[int]] = field(default_factory=list)
    # Not a column of `edits`: the drain applies it to the edit it names.
    supersedes: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.event_id)

    def add_record(self, r: EditEvent) -> None:
        for name in EDIT_COLUMNS:
            getattr(self, name).append(getattr(r, name))
        self.keys.append(list(r.keys))
        self.supersedes.append(r.supersedes)

    def extend_dicts(self, dicts: list[dict[str, Any]]) -> None:
        """Append spooled edit dicts; ValueError if any would not make a valid EditEvent.

        Checks run per column (one pass of C-level iteration each) rather than per record,
        which is most of the drain's speed on a large backlog.
        """
        if not dicts:
            return
        # Any: these are unchecked JSON values until _require_types has run.
        source: list[Any] = [d.get("source") for d in dicts]
        file_id: list[Any] = [d.get("file_id") for d in dicts]
        keys: list[Any] = [d.get("keys") for d in dicts]
        if not set(source) <= _SOURCES:
            raise ValueError(f"unknown edit source in {sorted(map(repr, set(source)))}")
        _require_types("file_id", file_id, _STR)
        _require_types("keys", keys, _LIST)
        flat = list(chain.from_iterable(keys))
        if flat:
            _require_types("keys[]", flat, _INT)
            if min(flat) < -(2**63) or max(flat) >= 2**63:
                raise ValueError("an edit's keys must be 64-bit integers")
        optional: dict[str, list[Any]] = {
            name: [d.get(name) for d in dicts] for name in _OPTIONAL_TEXT
        }
        for name, column in optional.items():
            _require_types(name, column, _STR_OR_NONE)
        language: list[Any] = [d.get("language", "") for d in dicts]
        origin: list[Any] = [d.get("origin", "lsp") for d in dicts]
        line_count: list[Any] = [d.get("line_count", 0) for d in dicts]
        ts: list[Any] = [d.get("ts") for d in dicts]
        event_id: list[Any] = [d.get("event_id") for d in dicts]
        _require_types("language", language, _STR)
        _require_types("origin", origin, _STR)
        _require_types("line_count", line_count, _INT)
        if min(line_count) < -(2**31) or max(line_count) >= 2**31:
            raise ValueError("edit field line_count must be a 32-bit integer")
        if None in ts:
            # Same defaults as EditEvent's field factories (rare: producers always set them).
            now = time.time()
            ts = [now if t is None else t for t in ts]
        _require_types("ts", ts, _NUMBER)
        if None in event_id:
            event_id = [new_id() if e is None else e for e in event_id]
        _require_types("event_id", event_id, _STR)
        self.event_id.extend(event_id)
        self.ts.extend(map(float, ts))
        self.repo_id.extend(optional["repo_id"])
        self.file_id.extend(file_id)
        self.language.extend(language)
        self.source.extend(source)
        self.tool.extend(optional["tool"])
        self.kind.extend(optional["kind"])
        self.model.extend(optional["model"])
        self.session_id.extend(optional["session_id"])
        self.line_count.extend(line_count)
        self.origin.extend(origin)
        self.keys.extend(keys)
        self.supersedes.extend(optional["supersedes"])


_STR = frozenset({str})
_LIST = frozenset({list})
_INT = frozenset({int})
_NUMBER = frozenset({int, float})
_STR_OR_NONE: frozenset[type] = frozenset({str, type(None)})


def _require_types(name: str, column: list[Any], allowed: frozenset[type]) -> None:
    # type() rather than isinstance: bool must not pass as int, as in a strict schema.
    if not set(map(type, column)) <= allowed:
        raise ValueError(f"edit field {name} has a value of the wrong type")


@dataclass(frozen=True)
class ParsedBatch:
    batch_id: str
    path: Path
    edits: EditColumns
    # Non-edit records as dataclasses, in batch order, for the registered writers.
    others: list[Any]
    registrations: list[str]
    size: int


def read_batch(path: Path) -> ParsedBatch:
    """Parse and validate one spool file; SpoolError when any part of it is bad."""
    try:
        doc = load_batch_document(path)
        records = doc["records"]
        if not isinstance(records, list):
            raise SpoolError(f"batch {path.name} has no record list")
        if not all(type(item) is dict for item in records):
            raise ValueError("a record must be an object")
        edits = EditColumns()
        edits.extend_dicts([item for item in records if item.get("type") == _EDIT])
        others: list[Any] = []
        registrations: list[str] = []
        for item in records:
            if item.get("type") == _EDIT:
                continue
            record = from_dict(item)
            others.append(record)
            if item.get("type") == _REGISTRATION:
                registrations.append(record.path)
        return ParsedBatch(str(doc["batch_id"]), path, edits, others, registrations,
                           len(records))
    # RecursionError: json.loads on absurdly nested input.
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise SpoolError(f"batch {path.name} is unreadable: {exc}") from exc
