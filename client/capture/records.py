"""Plain records that producers put in the spool and the agent stores.

A record is a frozen dataclass with a stable `record_type`; `to_dict`/`from_dict` give the
spool's JSON form. Only keyed ids and line keys appear here, never text, paths or names,
except in RepoRegistration, which the agent turns into a keyed id at once.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

# The sources `worktally status` shows as today's lines (its JSON keys).
SOURCES = ("typed", "ai", "bulk", "external")
# Every edit source: `ai_modified` is AI text a person then changed (the language server
# knows it from the AI signal it saw insert the line).
EDIT_SOURCES = ("typed", "ai", "ai_modified", "bulk", "external")
AI_KINDS = ("completion", "chat", "agent", "paste")


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class EditEvent:
    """One inserted span: which keyed lines went into which keyed file, and from where."""

    record_type: ClassVar[str] = "edit"
    source: str
    keys: tuple[int, ...]
    file_id: str
    repo_id: str | None = None
    language: str = ""
    tool: str | None = None
    kind: str | None = None
    model: str | None = None
    session_id: str | None = None
    line_count: int = 0
    origin: str = "lsp"
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=new_id)
    # An earlier edit whose lines this one relabels (a signal that came after the flush):
    # the agent removes these keys and this many lines from it, so nothing counts twice.
    supersedes: str | None = None

    def __post_init__(self) -> None:
        if self.source not in EDIT_SOURCES:
            raise ValueError(f"unknown edit source {self.source!r}")


@dataclass(frozen=True)
class RepoRegistration:
    """A producer asks the agent to watch a git work tree (path stays local, in repos.json)."""

    record_type: ClassVar[str] = "repo_register"
    path: str
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class AISession:
    """One unit of AI use that carries tokens (agent session, chat thread, browser tab...)."""

    record_type: ClassVar[str] = "ai_session"
    session_id: str
    tool: str
    kind: str
    repo_id: str | None
    started_at: float
    ended_at: float
    has_cwd: bool = True
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one model request; usage_id deduplicates across files and sources."""

    record_type: ClassVar[str] = "token_usage"
    usage_id: str
    session_id: str
    tool: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    is_sidechain: bool = False
    origin: str = "transcript"
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class OtlpCount:
    """One OTLP counter data point (lines added/removed, commits, tool-reported cost).

    A cumulative series keeps one row per series start, so count_id repeats and the drain
    keeps the largest value; a delta point has a count_id of its own.
    """

    record_type: ClassVar[str] = "otlp_count"
    count_id: str
    tool: str
    session_id: str
    metric: str
    value: int
    window_start: float
    window_end: float
    cumulative: bool = False
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class ChatSnippet:
    """Keyed lines of one copy from an AI chat's answer; the text itself is never kept."""

    record_type: ClassVar[str] = "chat_snippet"
    session_id: str
    family: str
    keys: tuple[int, ...]
    ts: float = field(default_factory=time.time)
    event_id: str = field(default_factory=new_id)


# Every record type a spool batch may carry; the drain has a writer for each.
RECORD_TYPES: dict[str, type[Any]] = {
    cls.record_type: cls
    for cls in (EditEvent, RepoRegistration, AISession, TokenUsage, OtlpCount, ChatSnippet)
}


def to_dict(record: Any) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    if "keys" in data:
        data["keys"] = list(data["keys"])
    data["type"] = record.record_type
    return data


def from_dict(data: dict[str, Any]) -> Any:
    """Rebuild a record; raises ValueError on an unknown type or bad fields."""
    kind = data.get("type")
    cls = RECORD_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown record type {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    if "keys" in kwargs:
        kwargs["keys"] = tuple(int(k) for k in kwargs["keys"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad {kind} record: {exc}") from exc


RecordHandler = Callable[[Any], None]
