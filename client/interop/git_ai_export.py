"""Write worktally's attribution of your commits as git-ai notes (refs/notes/ai), per repo, on
request (`worktally repos set PATH --git-ai-notes write`).

git-ai knows three states per line; worktally's six classes map onto them as git-ai itself
would: `ai` lines are attested to an AI session (tool, model; worktally's kind as a custom
attribute), `human` lines and `ai_modified` lines (AI text you changed, which the spec
re-attributes to the human, section 2.1) to a known human, and `bulk`, `external` and
`unknown` lines are left untracked (git-ai's known human is someone seen typing in an IDE;
a paste, a write on disk or an unseen line is not that). A commit that already has a note is
never touched, and one with nothing to attest gets no note.

What is written beyond the lines: the human key and its record's `author`, which the spec
requires, are the commit's own committer identity (already in the commit object the note is
attached to); sessions carry no `human_author` (optional in the spec), and their `id` is a
keyed label of worktally's session id, not the id itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.interop import committed, git_ai_format, git_calls, line_ranges, names
from worktally.client.repos.registry import Repo
from worktally.client.store.transaction import transaction

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
# Notes written per repo per run; the rest follow at the next sync (bounds a sync's time).
MAX_NOTES_PER_RUN = 500
ID_HEX = 14
_AI = "ai"
_HUMAN = ("human",)
# worktally classes that git-ai calls a known human's lines.
HUMAN_CLASSES = ("human", "ai_modified")


@dataclass
class WriteCounts:
    written: int = 0
    nothing_to_write: int = 0
    had_note: int = 0

    def to_json(self) -> dict[str, int]:
        return {"written": self.written, "nothing_to_write": self.nothing_to_write,
                "had_note": self.had_note}


def session_key(tool: str, conversation_id: str) -> str:
    """`s_` + SHA-256("<tool>:<conversation_id>") cut to 14 hex (spec 1.2.3.1)."""
    return "s_" + _hex(f"{tool}:{conversation_id}")


def human_key(identity: str) -> str:
    """`h_` + SHA-256 of the git committer identity, cut to 14 hex (spec 1.2.3.1)."""
    return "h_" + _hex(identity)


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_HEX]


def export_repo(con: Connection, keyer: LineKeyer, repo: Repo,
                limit: int = MAX_NOTES_PER_RUN) -> WriteCounts:
    """Write a note for each of the repo's attributed commits that has none yet."""
    root = Path(repo.path)
    counts = WriteCounts()
    candidates = committed.stored_commits(con, repo.repo_id, skip_noted=True, limit=limit)
    if not candidates:
        return counts
    listed = git_calls.list_notes(root)
    facts = git_calls.commit_facts(root, [c.sha for c in candidates])
    done: list[tuple[str, str | None, str, int, int]] = []
    for commit in candidates:
        fact = facts.get(commit.sha)
        if fact is None:
            continue
        if commit.sha in listed:
            # A note that appeared since the read step: no blob is kept, so the next read
            # step reads it.
            done.append((commit.sha, None, "had_note", 0, 0))
            counts.had_note += 1
            continue
        note = build_note(con, keyer, root, repo.repo_id, fact)
        if note is None:
            done.append((commit.sha, None, "nothing_to_write", 0, 0))
            counts.nothing_to_write += 1
            continue
        text, ai, human = note
        blob = git_calls.write_note(root, commit.sha, text)
        done.append((commit.sha, blob, "written", ai, human))
        counts.written += 1
    now = dt.datetime.now(dt.UTC)
    with transaction(con):
        for row in done:
            con.execute("INSERT OR REPLACE INTO git_ai_notes VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [repo.repo_id, *row, now])
    return counts


def build_note(con: Connection, keyer: LineKeyer, root: Path, repo_id: str,
               fact: git_calls.CommitFacts) -> tuple[str, int, int] | None:
    """The note's text for one stored commit with its AI and human line counts, or None
    when no line of it is AI or human."""
    parent = fact.parents[0] if fact.parents else None
    added = git_calls.added_lines_numbered(root, fact.sha, parent)
    classes = committed.classes_of(con, repo_id, fact.sha)

    def verdict(key: int) -> tuple[str, ...] | None:
        found = classes.get(key)
        if found is None:
            return None
        if found.source == _AI:
            return (_AI, names.tool_to_git_ai(found.tool), found.kind or "",
                    found.session_id or "")
        return _HUMAN if found.source in HUMAN_CLASSES else None

    per_file: list[tuple[str, dict[tuple[str, ...], list[tuple[int, int]]]]] = []
    counted = {_AI: 0, "human": 0}
    for path in sorted(added):
        if not git_ai_format.can_name(path):
            continue
        lines = [(number, keyer.key(text)) for number, text in added[path]]
        grouped: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
        for start, end, found in line_ranges.runs(lines, verdict):
            grouped[found].append((start, end))
        for _number, key in lines:
            says = verdict(key) if key is not None else None
            if says is not None:
                counted[says[0]] += 1
        if grouped:
            per_file.append((path, grouped))
    if not per_file:
        return None
    return _render(con, keyer, fact, per_file), counted[_AI], counted["human"]


def _render(con: Connection, keyer: LineKeyer, fact: git_calls.CommitFacts,
            per_file: list[tuple[str, dict[tuple[str, ...], list[tuple[int, int]]]]]) -> str:
    sessions: dict[str, dict[str, Any]] = {}
    humans: dict[str, dict[str, str]] = {}
    keys: dict[tuple[str, ...], str] = {}
    verdicts = {v for _path, grouped in per_file for v in grouped}
    models = committed.session_models(con, [v[3] for v in verdicts if v[0] == _AI and v[3]])
    for found in sorted(verdicts):
        if found == _HUMAN:
            key = human_key(fact.committer)
            humans[key] = {"author": fact.committer}
            keys[found] = key
            continue
        _ai, tool, kind, session = found
        conversation = keyer.label(f"{tool}:{session or 'stream:' + kind}")
        sid = session_key(tool, conversation)
        record: dict[str, Any] = {"agent_id": {
            "tool": tool, "id": conversation,
            "model": models.get(session) or names.UNKNOWN}}
        if kind:
            record["custom_attributes"] = {git_ai_format.KIND_ATTRIBUTE: kind}
        sessions[sid] = record
        keys[found] = f"{sid}::t_{_hex(f'worktally:{fact.sha}:{sid}')}"
    files = [(path, sorted(((keys[v], ranges) for v, ranges in grouped.items()),
                           key=lambda entry: entry[1][0]))
             for path, grouped in per_file]
    metadata: dict[str, Any] = {"schema_version": git_ai_format.SCHEMA_VERSION,
                                "base_commit_sha": fact.sha, "prompts": {}}
    if humans:
        metadata["humans"] = humans
    if sessions:
        metadata["sessions"] = sessions
    return git_ai_format.render(files, metadata)
