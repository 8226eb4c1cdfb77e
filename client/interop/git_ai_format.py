"""git-ai's authorship log, `authorship/3.0.0`: the text of one note under refs/notes/ai.

A note is an attestation section (a file path, then indented `<key> <ranges>` lines), a line
`---`, and a JSON metadata object (git-ai-project/git-ai, specs/git_ai_standard_v3.0.0.md).
Keys `s_<hex>::t_<hex>` name an AI session (`metadata.sessions`), bare hex keys a legacy AI
prompt (`metadata.prompts`), `h_<hex>` a known human (`metadata.humans`); a line no key
covers is untracked. Parsing keeps only what attribution needs: the AI sessions' tool, id
and model, and which human keys exist. `human_author`, the humans' `author` (names and
emails) and every other attribute are never read into the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from worktally.client.capture.records import AI_KINDS
from worktally.client.errors import WorktallyError
from worktally.client.interop import line_ranges

SCHEMA_VERSION = "authorship/3.0.0"
NOTES_REF = "refs/notes/ai"
DIVIDER = "---"
INDENT = "  "
# worktally's own custom attribute on the sessions it writes: the kind of AI edit.
KIND_ATTRIBUTE = "worktally.kind"
# The spec says the id lengths may change, so only the shape is checked, not 14 or 16.
_SESSION_KEY = re.compile(r"^(s_[0-9a-f]{4,64})::t_[0-9a-f]{4,64}$")
_HUMAN_KEY = re.compile(r"^h_[0-9a-f]{4,64}$")
_LEGACY_KEY = re.compile(r"^[0-9a-f]{7,64}$")
# A path line that would read as something else unless quoted.
_NEEDS_QUOTES = (" ", "\t")


class NoteFormatError(WorktallyError):
    """A note under refs/notes/ai is not a valid authorship/3.0.0 log."""


@dataclass(frozen=True)
class Agent:
    """One AI session or legacy prompt of a note: the tool, its conversation id and model."""

    tool: str
    conversation_id: str
    model: str
    kind: str | None = None


@dataclass(frozen=True)
class Entry:
    key: str
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class FileAttestation:
    path: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Note:
    files: tuple[FileAttestation, ...]
    base_commit_sha: str
    # Session ids (`s_…`) and legacy prompt hashes -> their agent.
    agents: Mapping[str, Agent] = field(default_factory=dict)
    # Human keys that have a record; the record itself (a name and an email) is not kept.
    humans: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Verdict:
    """What a note says about one line: `ai` (with its agent) or `human`."""

    source: str
    agent: Agent | None = None


HUMAN = Verdict("human")


def parse(text: str) -> Note:
    """Read one note; NoteFormatError when it is not an authorship/3.0.0 log."""
    lines = text.split("\n")
    try:
        divider = next(i for i, line in enumerate(lines) if line.rstrip("\r") == DIVIDER)
    except StopIteration:
        raise NoteFormatError("no '---' line between attestations and metadata") from None
    files = _attestations(lines[:divider])
    try:
        meta = json.loads("\n".join(lines[divider + 1:]))
    except ValueError as exc:
        raise NoteFormatError("the metadata after '---' is not JSON") from exc
    if not isinstance(meta, dict):
        raise NoteFormatError("the metadata after '---' is not a JSON object")
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise NoteFormatError(f"schema_version is not {SCHEMA_VERSION}")
    base = meta.get("base_commit_sha")
    agents: dict[str, Agent] = {}
    # Legacy prompts first: a session id never looks like a bare hex key, so neither shadows.
    for section in ("prompts", "sessions"):
        for key, record in _object(meta, section).items():
            agent = _agent(record)
            if agent is not None:
                agents[str(key)] = agent
    humans = frozenset(str(k) for k, v in _object(meta, "humans").items() if isinstance(v, dict))
    return Note(files=tuple(files), base_commit_sha=base if isinstance(base, str) else "",
                agents=agents, humans=humans)


def _object(meta: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = meta.get(name)
    if value is None:
        return {}  # `sessions` and `humans` may be absent on older notes (spec 1.2.4)
    if not isinstance(value, dict):
        raise NoteFormatError(f"metadata.{name} is not an object")
    return value


def _agent(record: Any) -> Agent | None:
    """The agent of a session or prompt record; None when its agent_id is unusable."""
    if not isinstance(record, dict):
        return None
    agent_id = record.get("agent_id")
    if not isinstance(agent_id, dict):
        return None
    tool, conversation, model = (agent_id.get(k) for k in ("tool", "id", "model"))
    if not isinstance(tool, str) or not tool:
        return None
    kind = None
    attributes = record.get("custom_attributes")
    if isinstance(attributes, dict) and attributes.get(KIND_ATTRIBUTE) in AI_KINDS:
        kind = str(attributes[KIND_ATTRIBUTE])
    return Agent(tool=tool, conversation_id=conversation if isinstance(conversation, str) else "",
                 model=model if isinstance(model, str) else "", kind=kind)


def _attestations(lines: Sequence[str]) -> list[FileAttestation]:
    files: list[FileAttestation] = []
    path: str | None = None
    entries: list[Entry] = []
    for raw in lines:
        line = raw.rstrip()
        if not line:
            continue
        if line.startswith(INDENT):
            if path is None:
                raise NoteFormatError("an attestation line comes before any file path")
            key, space, spec = line[len(INDENT):].partition(" ")
            if not space:
                raise NoteFormatError("an attestation line has no line ranges")
            try:
                ranges = tuple(line_ranges.parse(spec))
            except line_ranges.RangeError as exc:
                raise NoteFormatError(f"bad line ranges: {exc}") from exc
            entries.append(Entry(key, ranges))
            continue
        if path is not None and entries:
            files.append(FileAttestation(path, tuple(entries)))
        quoted = len(line) >= 2 and line.startswith('"') and line.endswith('"')
        path, entries = (line[1:-1] if quoted else line), []
    if path is not None and entries:
        files.append(FileAttestation(path, tuple(entries)))
    return files


def resolve(note: Note, attestation: FileAttestation, line_count: int) -> dict[int, Verdict]:
    """What the note says about each line of one file (at most `line_count` lines).

    Entries are read in order and a later one wins a line (git-ai reads them latest first).
    A key whose session, prompt or human record is missing says nothing, as in git-ai, and a
    key of an unknown shape is skipped.
    """
    out: dict[int, Verdict] = {}
    for entry in attestation.entries:
        verdict = _verdict(note, entry.key)
        if verdict is None:
            continue
        for start, end in entry.ranges:
            for number in range(start, min(end, line_count) + 1):
                out[number] = verdict
    return out


def _verdict(note: Note, key: str) -> Verdict | None:
    session = _SESSION_KEY.match(key)
    if session:
        agent = note.agents.get(session.group(1))
        return Verdict("ai", agent) if agent is not None else None
    if _HUMAN_KEY.match(key):
        return HUMAN if key in note.humans else None
    if _LEGACY_KEY.match(key):
        agent = note.agents.get(key)
        return Verdict("ai", agent) if agent is not None else None
    return None


def can_name(path: str) -> bool:
    """A path the attestation section can carry unambiguously (no quote, no line break)."""
    return bool(path) and not any(c in path for c in '"\n\r')


def render(files: Sequence[tuple[str, Sequence[tuple[str, Sequence[tuple[int, int]]]]]],
           metadata: Mapping[str, Any]) -> str:
    """A note's text: per file its entries (key, ranges), `---`, then the metadata as JSON."""
    out: list[str] = []
    for path, entries in files:
        if not can_name(path):
            raise ValueError("a path with a quote or a line break cannot be attested")
        quoted = any(c in path for c in _NEEDS_QUOTES) or path == DIVIDER
        out.append(f'"{path}"' if quoted else path)
        for key, ranges in entries:
            out.append(f"{INDENT}{key} {line_ranges.format_ranges(ranges)}")
    out.append(DIVIDER)
    out.append(json.dumps(metadata, indent=2, ensure_ascii=False))
    return "\n".join(out) + "\n"
