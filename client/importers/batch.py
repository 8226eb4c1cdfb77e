"""What one pass over transcript lines yields: sessions, token usage and confirmed edits.

Parsers fill an `ImportBatch`; the store step writes it with the drain's writers. Tool calls
that write files wait in `pending` until their result line says they succeeded. Token usage
is held as plain tuples in the `token_usage` table's column order (`UsageRow`): an import
reads tens of thousands of them, and a tuple costs a fraction of a dataclass to build, to
send from a parse child and to turn into columns.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from worktally.client.capture.records import AISession, EditEvent, TokenUsage
from worktally.client.importers.keying import edit_event_id

# (usage_id, session_id, tool, model, ts, input_tokens, output_tokens,
#  cache_creation_tokens, cache_read_tokens, is_sidechain, origin): token_usage's columns,
# with ts in epoch seconds.
UsageRow = tuple[str, str, str, str, float, int, int, int, int, bool, str]
ROW_ID, ROW_SIDECHAIN = 0, 9


# An edit in the store's column order (store/batch_reader.EDIT_FIELDS): event_id, ts,
# repo_id, file_id, language, source, tool, kind, model, session_id, line_count, origin,
# keys (comma-joined, as they travel to DuckDB) and supersedes.
EditRow = tuple[str, float, str | None, str, str, str, str | None, str | None, str | None,
                str | None, int, str, str, str | None]


def edit_of(row: EditRow) -> EditEvent:
    (event_id, ts, repo_id, file_id, language, source, tool, kind, model, session_id,
     line_count, origin, keys, supersedes) = row
    return EditEvent(source=source, keys=tuple(int(k) for k in keys.split(",") if k),
                     file_id=file_id, repo_id=repo_id, language=language, tool=tool,
                     kind=kind, model=model, session_id=session_id, line_count=line_count,
                     origin=origin, ts=ts, event_id=event_id, supersedes=supersedes)


def row_of(u: TokenUsage) -> UsageRow:
    return (u.usage_id, u.session_id, u.tool, u.model, u.ts, u.input_tokens, u.output_tokens,
            u.cache_creation_tokens, u.cache_read_tokens, u.is_sidechain, u.origin)


def usage_of(row: UsageRow) -> TokenUsage:
    """The record of a row; its event id is its usage id (both name the request)."""
    (usage_id, session_id, tool, model, ts, inp, out, cache_creation, cache_read, sidechain,
     origin) = row
    return TokenUsage(usage_id=usage_id, session_id=session_id, tool=tool, model=model,
                      input_tokens=inp, output_tokens=out,
                      cache_creation_tokens=cache_creation, cache_read_tokens=cache_read,
                      is_sidechain=sidechain, origin=origin, ts=ts, event_id=usage_id)


def row_total(row: UsageRow) -> int:
    return row[5] + row[6] + row[7] + row[8]


def row_beats(old: UsageRow, new: UsageRow) -> bool:
    """The drain's rule on rows: main thread beats a sidechain copy, then the larger total."""
    if old[9] != new[9]:
        return old[9]
    return new[5] + new[6] + new[7] + new[8] > old[5] + old[6] + old[7] + old[8]


@dataclass(frozen=True)
class PendingEdit:
    """Keyed lines a tool call will write to one file, once its result confirms it."""

    file_id: str
    repo_id: str | None
    session_id: str
    keys: tuple[int, ...]
    line_count: int
    ts: float

    def to_json(self) -> list[Any]:
        return [self.file_id, self.repo_id, self.session_id, list(self.keys),
                self.line_count, self.ts]

    @classmethod
    def from_json(cls, raw: list[Any]) -> PendingEdit:
        file_id, repo_id, session_id, keys, line_count, ts = raw
        return cls(file_id=str(file_id), repo_id=repo_id, session_id=str(session_id),
                   keys=tuple(int(k) for k in keys), line_count=int(line_count), ts=float(ts))


# A tool call whose result never arrives is forgotten after this many newer ones.
MAX_PENDING_CALLS = 500


def pending_from_state(state: dict[str, Any]) -> dict[str, list[PendingEdit]]:
    """The tool calls still waiting for their result, as a parser's saved state holds them."""
    return {call: [PendingEdit.from_json(p) for p in items]
            for call, items in state.get("pending", {}).items()}


def pending_to_state(pending: dict[str, list[PendingEdit]]) -> dict[str, list[list[Any]]]:
    """The newest MAX_PENDING_CALLS waiting calls, for the parser's saved state."""
    calls = list(pending.items())[-MAX_PENDING_CALLS:]
    return {call: [p.to_json() for p in items] for call, items in calls}


def usage_total(u: TokenUsage) -> int:
    return u.input_tokens + u.output_tokens + u.cache_creation_tokens + u.cache_read_tokens


def better_usage(old: TokenUsage, new: TokenUsage) -> bool:
    """The drain's rule, applied early: main thread beats a sidechain copy, then the larger."""
    return beats(old, new.is_sidechain, usage_total(new))


def beats(old: TokenUsage, is_sidechain: bool, total: int) -> bool:
    """better_usage for a copy not built yet: its sidechain flag and token total."""
    if old.is_sidechain != is_sidechain:
        return old.is_sidechain
    return total > usage_total(old)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# "YYYY-MM-DDTHH:MM" of timestamps already parsed -> microseconds since the epoch.
_MINUTES: dict[str, int] = {}
_MINUTES_MAX = 4096


def parse_ts(value: Any) -> float | None:
    """Seconds since the epoch of an ISO-8601 timestamp ('Z' or an offset), else None.

    Every line carries one, so the shape JS writes (`2025-09-03T00:52:48.364Z`) is read
    from the minute it shares with earlier lines; the result is the same float as
    datetime.timestamp() (both divide whole microseconds by 10**6).
    """
    if not isinstance(value, str) or len(value) < 19:
        return None
    if len(value) == 24 and value[23] == "Z" and value[19] == ".":
        base = _MINUTES.get(value[:16])
        if base is not None and value[16] == ":":
            sec, ms = value[17:19], value[20:23]
            if sec.isascii() and sec.isdigit() and ms.isascii() and ms.isdigit() and sec < "60":
                return (base + int(sec) * 1_000_000 + int(ms) * 1000) / 1_000_000
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00", 1))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if len(value) == 24 and value[23] == "Z" and value[19] == "." and value[16] == ":":
        if len(_MINUTES) >= _MINUTES_MAX:
            _MINUTES.clear()
        _MINUTES[value[:16]] = (parsed.replace(second=0, microsecond=0) - _EPOCH) // _MICROSECOND
    return parsed.timestamp()


_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass
class ImportBatch:
    """Accumulates one chunk of lines; merged records, ready for one transaction."""

    tool: str
    # usage_id -> the best copy read so far (row_beats).
    rows: dict[str, UsageRow] = field(default_factory=dict)
    # event_id -> the first copy of a confirmed edit.
    edit_rows: dict[str, EditRow] = field(default_factory=dict)
    malformed_lines: int = 0
    failed_tool_calls: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    # session_id -> [started_at, ended_at, repo_id, has_cwd, first ts]. Nearly every line
    # widens its session, so spans are updated in place and AISessions built when read.
    spans: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def usages(self) -> dict[str, TokenUsage]:
        """The rows as records (a copy: add rows with add_usage or add_row)."""
        return {usage_id: usage_of(row) for usage_id, row in self.rows.items()}

    @property
    def edits(self) -> dict[str, EditEvent]:
        """The edit rows as records (a copy)."""
        return {event_id: edit_of(row) for event_id, row in self.edit_rows.items()}

    @property
    def sessions(self) -> dict[str, AISession]:
        return {
            sid: AISession(session_id=sid, tool=self.tool, kind="agent", repo_id=repo_id,
                           started_at=started, ended_at=ended, has_cwd=has_cwd, ts=first,
                           event_id=f"{self.tool}-session-{sid}")
            for sid, (started, ended, repo_id, has_cwd, first) in self.spans.items()
        }

    def parse_line(self, line: bytes) -> dict[str, Any] | None:
        """One transcript line as a JSON object, or None (counted as malformed) if it is not."""
        try:
            doc = orjson.loads(line)
        except ValueError:
            self.malformed_lines += 1
            return None
        if not isinstance(doc, dict):
            self.malformed_lines += 1
            return None
        return doc

    def add_usage(self, usage: TokenUsage) -> None:
        self.add_row(row_of(usage))

    def add_row(self, row: UsageRow) -> None:
        old = self.rows.get(row[0])
        if old is None or row_beats(old, row):
            self.rows[row[0]] = row

    def put_usage(self, usage: TokenUsage) -> None:
        """Replace any copy read so far (a log that rewrites a message keeps the last)."""
        self.rows[usage.usage_id] = row_of(usage)

    def touch_session(self, session_id: str, ts: float, repo_id: str | None,
                      has_cwd: bool) -> None:
        """Widen the session's span to `ts`; it keeps the first repo and cwd it is given."""
        span = self.spans.get(session_id)
        if span is None:
            self.spans[session_id] = [ts, ts, repo_id, has_cwd, ts]
            return
        if ts < span[0]:
            span[0] = ts
        elif ts > span[1]:
            span[1] = ts
        if span[2] is None:
            span[2] = repo_id
        if has_cwd:
            span[3] = True

    def merge(self, other: ImportBatch) -> None:
        """Fold another batch of the same tool into this one (several files, one commit)."""
        if self.rows:
            for row in other.rows.values():
                self.add_row(row)
        else:
            self.rows = dict(other.rows)
        for sid, (started, ended, repo_id, has_cwd, _first) in other.spans.items():
            self.touch_session(sid, started, repo_id, has_cwd)
            self.touch_session(sid, ended, repo_id, has_cwd)
        for event_id, edit in other.edit_rows.items():
            self.edit_rows.setdefault(event_id, edit)
        self.malformed_lines += other.malformed_lines
        self.failed_tool_calls += other.failed_tool_calls
        self.skipped.update(other.skipped)

    def confirm(self, call_id: str, pending: list[PendingEdit]) -> None:
        """A tool call succeeded: its pending edits become `ai` edit events.

        A call seen again (a copied or forked session) keeps its first record, as the store
        does: edit rows are idempotent on the event id.
        """
        for p in pending:
            if not p.keys:
                continue
            event_id = edit_event_id(self.tool, call_id, p.file_id)
            if event_id in self.edit_rows:
                continue
            self.edit_rows[event_id] = (
                event_id, p.ts, p.repo_id, p.file_id, "", "ai", self.tool, "agent", None,
                p.session_id, p.line_count, self.tool, ",".join(map(str, p.keys)), None,
            )
