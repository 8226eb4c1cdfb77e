"""A thin adapter over the git command line: every call has a timeout and raises GitError.

Only this module runs git for attribution, survival and the external-edit scan, so the
quirks (quoted paths, shallow clones, binary files, the empty tree) are handled once.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from worktally.client.errors import GitError

log = logging.getLogger(__name__)

TIMEOUT_S = 30
# A huge commit (a vendored library) may take a while to diff; it must still end.
DIFF_TIMEOUT_S = 180
# Refs whose commits count; refs/stash is left out because its commits are snapshots.
COMMIT_REFS = ("--branches", "--tags", "--remotes", "HEAD")
_BASE = ("git", "-c", "core.quotepath=off", "-c", "color.ui=false")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author_email: str
    committed_at: float
    parents: tuple[str, ...]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def run(root: Path, *args: str, timeout: float = TIMEOUT_S, stdin: bytes | None = None,
        ok_codes: tuple[int, ...] = (0,)) -> bytes:
    """Run one git command in `root` and return its stdout; GitError on failure or timeout."""
    try:
        out = subprocess.run(
            [*_BASE, "-C", str(root), *args], input=stdin, capture_output=True,
            timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} took longer than {timeout:.0f} s; try again later") from exc
    except OSError as exc:
        raise GitError(f"could not run git ({exc.strerror}); is git installed?") from exc
    if out.returncode not in ok_codes:
        # stderr may name files; keep it at DEBUG, never in the user-facing message.
        log.debug("git %s failed: %s", args[0], out.stderr.decode(errors="replace"))
        raise GitError(f"git {args[0]} failed with exit code {out.returncode}")
    return out.stdout


def list_commits(root: Path, since: float) -> list[CommitInfo]:
    """Commits reachable from branches, tags, remotes or HEAD, committed at or after `since`."""
    if head_sha(root) is None:
        return []  # no commit yet: `git log HEAD` would fail
    fmt = "%H%x00%ae%x00%ct%x00%P%x00"
    raw = run(root, "log", *COMMIT_REFS, f"--since=@{int(since)}", f"--format={fmt}",
              "--no-show-signature")
    out: list[CommitInfo] = []
    fields = raw.decode("utf-8", "replace").split("\x00")
    for i in range(0, len(fields) - 4, 4):
        sha, email, ct, parents = (f.strip() for f in fields[i:i + 4])
        if sha:
            out.append(CommitInfo(sha, email, float(ct or 0), tuple(parents.split())))
    return out


def shallow_boundary(root: Path) -> set[str]:
    """Commits whose parents a shallow clone cut off: their diff would be the whole tree."""
    path = git_path(root, "shallow")
    try:
        return set(path.read_text(encoding="ascii").split())
    except FileNotFoundError:
        return set()


def git_path(root: Path, name: str) -> Path:
    """Where `.git/<name>` really lives (worktrees and submodules move it)."""
    raw = run(root, "rev-parse", "--git-path", name).decode().strip()
    path = Path(raw)
    return path if path.is_absolute() else root / path


def empty_tree(root: Path) -> str:
    """The empty tree's id in this repo's hash (sha1 or sha256), to diff a root commit."""
    return run(root, "hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()


def added_lines(root: Path, sha: str, parent: str | None) -> dict[str, list[str]]:
    """Lines each file gained in `sha` against `parent` (None: a root commit), binaries skipped."""
    base = parent or empty_tree(root)
    args = ("diff", "-U0", "--no-color", "--no-ext-diff", "--ignore-submodules",
            "--find-renames", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/",
            base, sha, "--")
    return parse_added(_stream(root, args, DIFF_TIMEOUT_S))


def changed_files(root: Path, sha: str, parent: str | None) -> list[str]:
    """Paths (as they are in `sha`) that the commit added or modified."""
    base = parent or empty_tree(root)
    raw = run(root, "diff", "--name-only", "-z", "--diff-filter=AMRC", "--find-renames",
              "--ignore-submodules", base, sha, "--")
    return [p for p in raw.decode("utf-8", "replace").split("\x00") if p]


def parse_added(diff: bytes) -> dict[str, list[str]]:
    """Parse `git diff -U0` output into the added lines per new path."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_hunk = False
    for raw in diff.split(b"\n"):
        if raw.startswith(b"diff --git "):
            current, in_hunk = None, False
        elif not in_hunk:
            if raw.startswith(b"+++ "):
                target = _unquote(raw[4:].rstrip(b"\t"))
                # /dev/null is a deletion; the b/ prefix is git's default destination label.
                current = None if target == "/dev/null" else files.setdefault(target[2:], [])
            elif raw.startswith(b"@@") and current is not None:
                in_hunk = True
        elif raw.startswith(b"+") and current is not None:
            current.append(raw[1:].decode("utf-8", "replace"))
        elif raw.startswith(b"@@"):
            continue
    return {path: lines for path, lines in files.items() if lines}


def _unquote(name: bytes) -> str:
    """Undo git's C-style quoting of unusual path names ("b/tab\\there")."""
    if name.startswith(b'"') and name.endswith(b'"'):
        name = name[1:-1].decode("unicode_escape").encode("latin-1")
    return name.decode("utf-8", "replace")


def configured_email(root: Path) -> str | None:
    """The repo's effective user.email (local, else global), or None when unset."""
    raw = run(root, "config", "--get", "user.email", ok_codes=(0, 1)).decode().strip()
    return raw or None


def head_sha(root: Path) -> str | None:
    raw = run(root, "rev-parse", "--verify", "-q", "HEAD", ok_codes=(0, 1)).decode().strip()
    return raw or None


def read_blobs(root: Path, rev: str, relpaths: list[str],
               max_bytes: int | None = None) -> dict[str, bytes | None]:
    """The contents of `rev:path` per path, in two git calls; None when absent, not a blob,
    or larger than `max_bytes`."""
    # A name git cannot take in `rev:path` (newline, absolute, `..`) would abort the batch.
    wanted = [p for p in relpaths if "\n" not in p and not p.startswith("/")
              and ".." not in p.split("/")]
    result: dict[str, bytes | None] = dict.fromkeys(relpaths)
    if not wanted:
        return result
    # Sizes first, so a huge tracked file is never pulled into memory.
    sizes = _batch_headers(root, rev, wanted)
    wanted = [p for p in wanted if sizes.get(p) is not None
              and (max_bytes is None or (sizes[p] or 0) <= max_bytes)]
    if not wanted:
        return result
    raw = run(root, "cat-file", "--batch", stdin=_batch_request(rev, wanted),
              timeout=DIFF_TIMEOUT_S)
    pos = 0
    for path in wanted:
        end = raw.index(b"\n", pos)
        header = raw[pos:end].split()
        pos = end + 1
        if len(header) == 3:
            size = int(header[2])
            if header[1] == b"blob":
                result[path] = raw[pos:pos + size]
            pos += size + 1
    return result


def _batch_request(rev: str, relpaths: list[str]) -> bytes:
    return "".join(f"{rev}:{p}\n" for p in relpaths).encode("utf-8", "surrogateescape")


def _batch_headers(root: Path, rev: str, relpaths: list[str]) -> dict[str, int | None]:
    """Blob size per path (None when missing or not a blob)."""
    raw = run(root, "cat-file", "--batch-check", stdin=_batch_request(rev, relpaths))
    out: dict[str, int | None] = {}
    for path, line in zip(relpaths, raw.split(b"\n"), strict=False):
        header = line.split()
        out[path] = int(header[2]) if len(header) == 3 and header[1] == b"blob" else None
    return out


def reachable_shas(root: Path, since: float) -> set[str]:
    """Commits reachable from any counted ref, committed since `since` (bounds the walk)."""
    if head_sha(root) is None:
        return set()
    raw = run(root, "rev-list", *COMMIT_REFS, f"--since=@{int(since)}")
    return set(raw.decode().split())


def status_paths(root: Path) -> list[str]:
    """Work-tree files that differ from HEAD or are untracked, honouring .gitignore."""
    raw = run(root, "status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all",
              "--ignore-submodules=all")
    out: list[str] = []
    for entry in raw.decode("utf-8", "surrogateescape").split("\x00"):
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if "D" not in code:
            out.append(path)
    return out


def _stream(root: Path, args: tuple[str, ...], timeout: float) -> bytes:
    """Run a command whose output may be large; stderr goes to a file so pipes never block."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen([*_BASE, "-C", str(root), *args],
                                    stdout=subprocess.PIPE, stderr=err)
        except OSError as exc:
            raise GitError(f"could not run git ({exc.strerror}); is git installed?") from exc
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            data = proc.stdout.read()
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.stdout is not None:
                proc.stdout.close()
        if code != 0:
            err.seek(0)
            log.debug("git %s failed: %s", args[0], err.read().decode(errors="replace"))
            if code < 0:
                raise GitError(f"git {args[0]} took longer than {timeout:.0f} s; try again later")
            raise GitError(f"git {args[0]} failed with exit code {code}")
    return data
