"""Agent Trace 0.1.0 records of your commits (cursor/agent-trace), written locally.

One record per attributed commit (reachable, not a merge): its files, and in each the line
ranges it added, grouped by contributor. worktally's classes map to Agent Trace's
contributor types: `ai` -> `ai` (with the session's model as a models.dev id), `ai_modified`
-> `mixed` (AI text a person changed), `human` -> `human`, and `bulk`, `external`, `unknown`
-> `unknown` (a paste with no AI signal, a write no editor saw and an unseen line have no
known author). Ranges are exact at the commit: they cover only lines the commit added, and a
trivial line (blank, `}`) only between two counted lines of the same contributor. The record
holds file paths (it is the developer's own file) and, only when asked, a SHA-256 of each
range's text; nothing is uploaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.interop import committed, git_calls, line_ranges, names
from worktally.client.repos.registry import Repo

Connection = duckdb.DuckDBPyConnection
SPEC_VERSION = "0.1.0"
MEDIA_TYPE = "application/vnd.agent-trace.record+json"
# Record ids are uuid5 of the repo's keyed id and the sha: the same commit always gets the
# same id, so exporting twice gives the same records.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://agent-trace.dev/worktally")
VENDOR_KEY = "dev.worktally"
CONTRIBUTOR_TYPE = {"ai": "ai", "ai_modified": "mixed", "human": "human", "bulk": "unknown",
                    "external": "unknown", "unknown": "unknown"}


@dataclass(frozen=True)
class _Who:
    """One conversation's contributor; tool and session only keep conversations apart."""

    type: str
    model_id: str | None = None
    tool: str | None = None
    session: str | None = None

    def contributor(self) -> dict[str, str]:
        out = {"type": self.type}
        if self.model_id:
            out["model_id"] = self.model_id
        return out


def records(con: Connection, keyer: LineKeyer, repo: Repo, tool_version: str,
            since: dt.datetime | None = None, content_hashes: bool = False
            ) -> Iterator[dict[str, Any]]:
    """The records of one repo's attributed commits, oldest first."""
    root = Path(repo.path)
    stored = committed.stored_commits(con, repo.repo_id, since=since)
    facts = git_calls.commit_facts(root, [c.sha for c in stored])
    for commit in stored:
        fact = facts.get(commit.sha)
        if fact is not None:
            yield record(con, keyer, root, commit, fact, tool_version, content_hashes)


def record(con: Connection, keyer: LineKeyer, root: Path, commit: committed.StoredCommit,
           fact: git_calls.CommitFacts, tool_version: str,
           content_hashes: bool = False) -> dict[str, Any]:
    parent = fact.parents[0] if fact.parents else None
    added = git_calls.added_lines_numbered(root, commit.sha, parent)
    classes = committed.classes_of(con, commit.repo_id, commit.sha)
    models = committed.session_models(
        con, [c.session_id for c in classes.values() if c.session_id])

    def verdict(key: int) -> _Who | None:
        found = classes.get(key)
        if found is None:
            return None  # attribution did not see this key: the record says nothing
        kind = CONTRIBUTOR_TYPE.get(found.source, "unknown")
        if kind in ("ai", "mixed"):
            model = models.get(found.session_id) if found.session_id else None
            return _Who(kind, names.model_id(model), found.tool, found.session_id)
        return _Who(kind)

    files = []
    for path in sorted(added):
        lines = added[path]
        text = dict(lines)
        conversations: dict[_Who, list[dict[str, Any]]] = defaultdict(list)
        for start, end, who in line_ranges.runs(
                [(number, keyer.key(line)) for number, line in lines], verdict):
            span: dict[str, Any] = {"start_line": start, "end_line": end}
            if content_hashes:
                body = "\n".join(text[n] for n in range(start, end + 1))
                span["content_hash"] = "sha256:" + hashlib.sha256(
                    body.encode("utf-8", "surrogatepass")).hexdigest()
            conversations[who].append(span)
        if conversations:
            files.append({"path": path, "conversations": [
                {"contributor": who.contributor(), "ranges": spans}
                for who, spans in sorted(conversations.items(),
                                         key=lambda item: item[1][0]["start_line"])]})
    return {
        "version": SPEC_VERSION,
        "id": str(uuid.uuid5(ID_NAMESPACE, f"{commit.repo_id}:{commit.sha}")),
        "timestamp": commit.committed_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "vcs": {"type": "git", "revision": commit.sha},
        "tool": {"name": "worktally", "version": tool_version},
        "files": files,
        "metadata": {VENDOR_KEY: {
            "line_classes": commit.counts,
            "ai_lines_by_tool": committed.ai_lines_by_tool(con, commit.repo_id, commit.sha)}},
    }
