"""The `worktally/aiEdit` and `worktally/paste` signals: parsing, and matching them to changes.

An editor integration may send a signal just before or just after the didChange it describes,
so each document keeps its last few changes and the signals still waiting for their change.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, TypeGuard

from worktally.client.capture.records import AI_KINDS
from worktally.client.errors import WorktallyError
from worktally.lsp.positions import LineSpan, Pos
from worktally.lsp.tracker import AppliedChange, Attribution

MAX_NAME_CHARS = 100
MAX_URI_CHARS = 8192
RECENT_CHANGES = 16
# A client that floods signals cannot grow memory without bound.
MAX_PENDING = 64


class InvalidSignalError(WorktallyError):
    """A signal's params are malformed; the message says which field to fix."""


@dataclass(frozen=True)
class Signal:
    """A claim about the text now at start..end of a document."""

    uri: str
    start: Pos
    end: Pos
    attribution: Attribution

    @property
    def lines(self) -> LineSpan:
        """Its lines, less a last line the range only reaches at column 0."""
        last = self.end.line
        if last > self.start.line and self.end.character == 0:
            last -= 1
        return LineSpan(self.start.line, last)


@dataclass(frozen=True)
class PendingSignal:
    """A signal waiting for its change; `fallback_at` is set when a near miss already came."""

    signal: Signal
    deadline: float
    fallback_at: float | None


def as_plain(value: Any) -> Any:
    """pygls hands untyped params over as namedtuples; turn them back into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: as_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: as_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_plain(v) for v in value]
    return value


def _string(params: dict[str, Any], name: str, max_chars: int, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidSignalError(f"'{name}' must be a non-empty string")
    if len(value) > max_chars:
        raise InvalidSignalError(f"'{name}' is longer than {max_chars} characters")
    return value


def _position(raw: Any, name: str) -> Pos:
    if not isinstance(raw, dict):
        raise InvalidSignalError(f"'range.{name}' must be an object with line and character")
    line, character = raw.get("line"), raw.get("character")
    if not (_is_count(line) and _is_count(character)):
        raise InvalidSignalError(f"'range.{name}' needs non-negative integer line/character")
    return Pos(line, character)


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _uri_and_range(params: Any) -> tuple[str, Pos, Pos]:
    params = as_plain(params)
    if not isinstance(params, dict):
        raise InvalidSignalError("params must be an object with uri and range")
    uri = _string(params, "uri", MAX_URI_CHARS)
    assert uri is not None
    raw_range = params.get("range")
    if not isinstance(raw_range, dict):
        raise InvalidSignalError("'range' must be an LSP range {start, end}")
    start = _position(raw_range.get("start"), "start")
    end = _position(raw_range.get("end"), "end")
    if end < start:
        raise InvalidSignalError("'range.end' is before 'range.start'")
    return uri, start, end


def parse_ai_edit(params: Any) -> Signal:
    """Validate `worktally/aiEdit` params {uri, range, tool, kind, model?}."""
    uri, start, end = _uri_and_range(params)
    params = as_plain(params)
    tool = _string(params, "tool", MAX_NAME_CHARS)
    kind = _string(params, "kind", MAX_NAME_CHARS)
    if kind not in AI_KINDS:
        raise InvalidSignalError(f"'kind' must be one of {', '.join(AI_KINDS)}")
    model = _string(params, "model", MAX_NAME_CHARS, required=False)
    return Signal(uri, start, end, Attribution("ai", tool=tool, kind=kind, model=model))


def parse_paste(params: Any) -> Signal:
    """Validate `worktally/paste` params {uri, range}: a clipboard paste, kept as bulk."""
    uri, start, end = _uri_and_range(params)
    return Signal(uri, start, end, Attribution("bulk", kind="paste"))


def _exact(signal: Signal, change: AppliedChange) -> bool:
    return change.start == signal.start and change.end == signal.end


def _near(signal: Signal, change: AppliedChange) -> bool:
    """A multi-character change whose text lies on the signal's lines.

    Keystrokes never count: a signal sent just before an insert must not stick to the
    typing that happened just before it.
    """
    if change.attribution is None or change.attribution.source == "typed":
        return False
    return change.content.overlaps(signal.lines)


class SignalMatcher:
    """Pairs signals with changes of one document, in either order, within `window_s`.

    An exact range match pairs at once. A signal whose change only overlaps (a sloppy
    client) pairs with the next overlapping change, or, if an overlapping change came just
    before it, with that one after `fallback_s`, still well before those lines settle.
    """

    def __init__(self, window_s: float, fallback_s: float = 0.2) -> None:
        self.window_s = window_s
        self.fallback_s = fallback_s
        self.recent: deque[tuple[AppliedChange, float]] = deque(maxlen=RECENT_CHANGES)
        self.pending: list[PendingSignal] = []

    def on_change(self, change: AppliedChange, now: float) -> list[Signal]:
        """Record a change; return the waiting signals it satisfies (they stop waiting)."""
        self.recent.append((change, now))
        if not self.pending:
            return []
        matched: list[Signal] = []
        waiting: list[PendingSignal] = []
        for item in self.pending:
            if item.deadline < now:
                continue
            if _exact(item.signal, change) or _near(item.signal, change):
                matched.append(item.signal)
            else:
                waiting.append(item)
        self.pending = waiting
        return matched

    def on_signal(self, signal: Signal, now: float) -> bool:
        """True when a recent change matches exactly (apply now); otherwise the signal waits."""
        near = False
        for change, at in reversed(self.recent):
            if now - at > self.window_s:
                break
            if _exact(signal, change):
                return True
            near = near or _near(signal, change)
        fallback_at = now + self.fallback_s if near else None
        self.pending.append(PendingSignal(signal, now + self.window_s, fallback_at))
        del self.pending[:-MAX_PENDING]
        return False

    def due(self, now: float) -> list[Signal]:
        """Signals to apply by fallback now; drops those whose change never came."""
        if not self.pending:
            return []
        due = [p.signal for p in self.pending if p.fallback_at is not None and p.fallback_at <= now]
        self.pending = [
            p for p in self.pending
            if p.deadline >= now and (p.fallback_at is None or p.fallback_at > now)
        ]
        return due
