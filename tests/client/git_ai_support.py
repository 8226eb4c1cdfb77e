"""git-ai notes written by hand for tests, in authorship/3.0.0's exact text format.

The keys are computed here from the spec's formulas (not with worktally's code), so a test
also checks that worktally reads and writes the spec's keys:
session id `s_` + SHA-256("<tool>:<conversation id>")[:14], trace id `t_` + 14 hex,
human `h_` + SHA-256("<Name> <<email>>")[:14], legacy prompt SHA-256("<tool>:<id>")[:16].
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from git_support import GitRepo


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def session_id(tool: str, conversation: str) -> str:
    return "s_" + sha256_hex(f"{tool}:{conversation}")[:14]


def session_key(tool: str, conversation: str, trace: str) -> str:
    return f"{session_id(tool, conversation)}::t_{sha256_hex(trace)[:14]}"


def human_key(identity: str) -> str:
    return "h_" + sha256_hex(identity)[:14]


def legacy_key(tool: str, conversation: str) -> str:
    return sha256_hex(f"{tool}:{conversation}")[:16]


def session_record(tool: str, conversation: str, model: str, human_author: str | None = None,
                   **attributes: str) -> dict[str, Any]:
    record: dict[str, Any] = {"agent_id": {"tool": tool, "id": conversation, "model": model}}
    if human_author is not None:
        record["human_author"] = human_author
    if attributes:
        record["custom_attributes"] = attributes
    return record


def note_text(files: list[tuple[str, list[tuple[str, str]]]], base: str,
              sessions: dict[str, Any] | None = None, humans: dict[str, str] | None = None,
              prompts: dict[str, Any] | None = None, version: str = "1.4.5") -> str:
    """Attestation lines ("path", then "  <key> <ranges>"), '---', pretty JSON metadata."""
    out: list[str] = []
    for path, entries in files:
        out.append(f'"{path}"' if " " in path or "\t" in path else path)
        out.extend(f"  {key} {ranges}" for key, ranges in entries)
    out.append("---")
    meta: dict[str, Any] = {"schema_version": "authorship/3.0.0", "git_ai_version": version,
                            "base_commit_sha": base, "prompts": prompts or {}}
    if humans:
        meta["humans"] = {key: {"author": author} for key, author in humans.items()}
    if sessions:
        meta["sessions"] = sessions
    return "\n".join(out) + "\n" + json.dumps(meta, indent=2)


def add_note(repo: GitRepo, sha: str, text: str) -> None:
    """Attach `text` byte for byte as the refs/notes/ai note of `sha`."""
    path = repo.root.parent / f".note-{sha[:12]}"
    path.write_text(text, encoding="utf-8")
    blob = repo.git("hash-object", "-w", str(path))
    repo.git("notes", "--ref=ai", "add", "-f", "-C", blob, sha)


def read_note(repo: GitRepo, sha: str) -> str | None:
    text = repo.git("notes", "--ref=ai", "show", sha, check=False)
    return text or None
