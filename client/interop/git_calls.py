"""Every git command the interop formats run, through `gitio.run` (timeouts, GitError).

Reading notes and files is batched (one `cat-file --batch` per chunk of objects), so a
history of thousands of notes costs a handful of git processes, not one per note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from worktally.client.repos import gitio

NOTES_REF_ARG = "--ref=refs/notes/ai"
# Objects per `cat-file` call: bounds one call's input and output.
BATCH = 500
_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class CommitFacts:
    sha: str
    author_email: str
    committer: str
    committed_at: float
    parents: tuple[str, ...]


def list_notes(root: Path) -> dict[str, str]:
    """commit sha -> note blob id, for every note under refs/notes/ai (none: empty)."""
    raw = gitio.run(root, "notes", NOTES_REF_ARG, "list")
    out: dict[str, str] = {}
    for line in raw.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[1]] = parts[0]
    return out


def read_objects(root: Path, specs: Sequence[str], max_bytes: int) -> dict[str, bytes]:
    """The contents of blobs named by id or `rev:path`; missing, non-blob or larger than
    `max_bytes` objects are left out."""
    wanted = [s for s in dict.fromkeys(specs) if s and "\n" not in s]
    out: dict[str, bytes] = {}
    for i in range(0, len(wanted), BATCH):
        chunk = wanted[i:i + BATCH]
        sizes = _sizes(root, chunk)
        small = [s for s in chunk if sizes.get(s) is not None and (sizes[s] or 0) <= max_bytes]
        if not small:
            continue
        raw = gitio.run(root, "cat-file", "--batch", stdin=_request(small),
                        timeout=gitio.DIFF_TIMEOUT_S)
        pos = 0
        for spec in small:
            end = raw.index(b"\n", pos)
            header = raw[pos:end].split()
            pos = end + 1
            if len(header) == 3:
                size = int(header[2])
                if header[1] == b"blob":
                    out[spec] = raw[pos:pos + size]
                pos += size + 1
    return out


def _request(specs: Sequence[str]) -> bytes:
    return "".join(f"{s}\n" for s in specs).encode("utf-8", "surrogateescape")


def _sizes(root: Path, specs: Sequence[str]) -> dict[str, int | None]:
    raw = gitio.run(root, "cat-file", "--batch-check", stdin=_request(specs))
    out: dict[str, int | None] = {}
    for spec, line in zip(specs, raw.split(b"\n"), strict=False):
        header = line.split()
        out[spec] = int(header[2]) if len(header) == 3 and header[1] == b"blob" else None
    return out


def commit_facts(root: Path, shas: Sequence[str]) -> dict[str, CommitFacts]:
    """Author email, committer identity, time and parents of each commit that exists here."""
    out: dict[str, CommitFacts] = {}
    wanted = [s for s in dict.fromkeys(shas) if s and s.isalnum()]
    for i in range(0, len(wanted), BATCH):
        chunk = wanted[i:i + BATCH]
        check = gitio.run(root, "cat-file", "--batch-check", stdin=_request(chunk))
        present = [s for s, line in zip(chunk, check.split(b"\n"), strict=False)
                   if line.split()[1:2] == [b"commit"]]
        if not present:
            continue
        raw = gitio.run(root, "log", "--no-walk=unsorted", "--stdin", "--no-show-signature",
                        "--format=%H%x00%ae%x00%cn <%ce>%x00%ct%x00%P%x00",
                        stdin=_request(present))
        fields = raw.decode("utf-8", "replace").split("\x00")
        for j in range(0, len(fields) - 5, 5):
            sha, email, committer, ct, parents = (f.strip() for f in fields[j:j + 5])
            if sha:
                out[sha] = CommitFacts(sha, email, committer, float(ct or 0),
                                       tuple(parents.split()))
    return out


def added_lines_numbered(root: Path, sha: str,
                         parent: str | None) -> dict[str, list[tuple[int, str]]]:
    """Per path in `sha`, the lines it gained against `parent` with their line numbers there.

    The same diff as attribution's (`gitio.added_lines`: renames found, binaries and
    submodules skipped), so the keys of these lines are the commit's keys.
    """
    base = parent or gitio.empty_tree(root)
    raw = gitio.run(root, "diff", "-U0", "--no-color", "--no-ext-diff", "--ignore-submodules",
                    "--find-renames", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/",
                    base, sha, "--", timeout=gitio.DIFF_TIMEOUT_S)
    return parse_numbered(raw)


def parse_numbered(diff: bytes) -> dict[str, list[tuple[int, str]]]:
    """`git diff -U0` output -> added lines with their new line numbers, per new path."""
    files: dict[str, list[tuple[int, str]]] = {}
    current: list[tuple[int, str]] | None = None
    in_hunk = False
    number = 0
    for raw in diff.split(b"\n"):
        if raw.startswith(b"diff --git "):
            current, in_hunk = None, False
        elif not in_hunk:
            if raw.startswith(b"+++ "):
                target = _unquote(raw[4:].rstrip(b"\t"))
                current = None if target == "/dev/null" else files.setdefault(target[2:], [])
            elif raw.startswith(b"@@") and current is not None:
                in_hunk, number = True, _hunk_start(raw)
        elif raw.startswith(b"@@"):
            number = _hunk_start(raw)
        elif raw.startswith(b"+") and current is not None:
            current.append((number, raw[1:].decode("utf-8", "replace")))
            number += 1
        elif raw.startswith(b" "):
            number += 1
    return {path: lines for path, lines in files.items() if lines}


def _unquote(name: bytes) -> str:
    """Undo git's C-style quoting of an unusual path ("b/tab\\there"), as gitio does."""
    if name.startswith(b'"') and name.endswith(b'"'):
        name = name[1:-1].decode("unicode_escape").encode("latin-1")
    return name.decode("utf-8", "replace")


def _hunk_start(header: bytes) -> int:
    match = _HUNK.match(header)
    return int(match.group(1)) if match else 0


def write_note(root: Path, sha: str, text: str) -> str:
    """Attach `text` as the refs/notes/ai note of `sha` (never over an existing one); returns
    the note's blob id. The blob is written first so git keeps the text byte for byte."""
    blob = gitio.run(root, "hash-object", "-w", "--stdin",
                     stdin=text.encode("utf-8")).decode().strip()
    gitio.run(root, "notes", NOTES_REF_ARG, "add", "-C", blob, sha)
    return blob
