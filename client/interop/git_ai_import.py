"""Read git-ai's notes (refs/notes/ai) into attribution: per line, AI (tool, model) or human.

A note's lines are keyed at the commit it is attached to, with the install's LineKeyer, as
every line is keyed, and stored in `git_ai_lines` dated at that commit. They are a second
observer's verdict on committed lines, not edits: they never count as edits (in `me`, in
`status`, in session outcomes) but apply to committed lines with the precedence an edit of
that source has (ai > ai_modified > bulk > external > human > unknown), so a key worktally saw
typed that a note calls AI is AI, a note's human line is human only where nothing better was
seen, and a rebased or squashed commit with the same lines takes them by content. Only your
commits' notes (the repo's user.email), within the attribution window, are read. Names and
emails in the notes are never read into anything stored; nor are paths or text.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import duckdb

from worktally.client.attribution.commits import DAY_S, LINE_CLASSES
from worktally.client.capture.line_keys import LineKeyer, lines_of
from worktally.client.config import Config
from worktally.client.interop import git_ai_format, git_calls, names
from worktally.client.repos import gitio
from worktally.client.repos.registry import Repo
from worktally.client.store.transaction import transaction

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
# A note or an attested file larger than this is not read (a note is a few KB).
MAX_NOTE_BYTES = 4 * 1024 * 1024
MAX_FILE_BYTES = 8 * 1024 * 1024
# Notes read (with their files) before their lines are stored.
NOTES_PER_CHUNK = 200
SKIPPED = ("not_yours", "too_old")
STATUS_COUNTS = {"read": "notes", "malformed": "malformed", "not_yours": "not_yours",
                 "too_old": "too_old"}
# The kind of an AI line a note does not name: git-ai records agents' checkpoints.
DEFAULT_KIND = "agent"
# A conversation id kept as it is (it then joins the tool's own session, as worktally's
# importers name it); anything else is stored as a keyed label.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_RANK = "CASE {col} " + " ".join(
    f"WHEN '{cls}' THEN {rank}" for rank, cls in enumerate(LINE_CLASSES)) + " ELSE 99 END"


@dataclass
class ReadCounts:
    """What reading one repo's notes did (`worktally import git-ai --json`)."""

    notes: int = 0
    unchanged: int = 0
    not_yours: int = 0
    too_old: int = 0
    malformed: int = 0
    ai_lines: int = 0
    human_lines: int = 0
    commit_lines_changed: int = 0
    commits_changed: int = 0

    def add(self, other: ReadCounts) -> None:
        for name in fields(self):
            setattr(self, name.name, getattr(self, name.name) + getattr(other, name.name))

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Row:
    line_key: int
    source: str
    tool: str | None
    kind: str | None
    model: str | None
    session_id: str | None


def import_repo(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config,
                processed_since: dt.datetime | None = None) -> ReadCounts:
    """Read the repo's new or changed notes, then apply every note line to its commits.

    With `processed_since`, and no note new in this call, only commits attributed since then
    are looked at (the periodic sync); otherwise all of the repo's commits are.
    """
    counts = read_notes(con, keyer, repo, cfg)
    since = None if counts.notes else processed_since
    counts.commit_lines_changed, counts.commits_changed = apply_notes(con, repo.repo_id, since)
    return counts


def read_notes(con: Connection, keyer: LineKeyer, repo: Repo, cfg: Config) -> ReadCounts:
    """Store the lines of every note not read before (or changed since) as `git_ai_lines`."""
    root = Path(repo.path)
    counts = ReadCounts()
    listed = git_calls.list_notes(root)
    if not listed:
        return counts
    known = dict(con.execute("SELECT sha, note_blob FROM git_ai_notes WHERE repo_id = ?",
                             [repo.repo_id]).fetchall())
    todo = [sha for sha, blob in listed.items() if known.get(sha) != blob]
    counts.unchanged = len(listed) - len(todo)
    if not todo:
        return counts
    email = gitio.configured_email(root)
    if email is None:
        log.warning("a registered repo has no user.email configured; its git-ai notes are "
                    "read once `git config user.email` is set")
        return counts
    facts = git_calls.commit_facts(root, todo)
    since = repo.added_at - cfg.attribution.history_days * DAY_S
    statuses: dict[str, str] = {}
    mine: list[git_calls.CommitFacts] = []
    for sha in todo:
        fact = facts.get(sha)
        if fact is None:
            continue  # the noted commit is not here (yet): looked at again next time
        if fact.author_email.lower() != email.lower():
            statuses[sha] = "not_yours"
        elif fact.committed_at < since:
            statuses[sha] = "too_old"
        else:
            mine.append(fact)
    blobs = {sha: listed[sha] for sha in todo}
    times = {f.sha: f.committed_at for f in mine}
    # Commits in chunks, each stored before the next is read: memory stays bounded by one
    # chunk's notes and files however long the history.
    for i in range(0, len(mine), NOTES_PER_CHUNK):
        rows, read = _note_lines(root, keyer, mine[i:i + NOTES_PER_CHUNK], blobs)
        _store(con, repo.repo_id, times, rows, read, blobs)
        statuses.update(read)
        for lines in rows.values():
            counts.ai_lines += sum(1 for r in lines if r.source == "ai")
            counts.human_lines += sum(1 for r in lines if r.source == "human")
    skipped = {sha: status for sha, status in statuses.items() if status in SKIPPED}
    _store(con, repo.repo_id, times, {}, skipped, blobs)
    for status in statuses.values():
        setattr(counts, STATUS_COUNTS[status], getattr(counts, STATUS_COUNTS[status]) + 1)
    return counts


def _note_lines(root: Path, keyer: LineKeyer, commits: Sequence[git_calls.CommitFacts],
                blobs: dict[str, str]) -> tuple[dict[str, list[_Row]], dict[str, str]]:
    """The keyed lines each commit's note attests, and each note's status (read/malformed)."""
    texts = git_calls.read_objects(root, [blobs[c.sha] for c in commits], MAX_NOTE_BYTES)
    notes: dict[str, git_ai_format.Note] = {}
    statuses: dict[str, str] = {}
    for commit in commits:
        raw = texts.get(blobs[commit.sha])
        try:
            if raw is None:
                raise git_ai_format.NoteFormatError("the note is missing or too large")
            notes[commit.sha] = git_ai_format.parse(raw.decode("utf-8", "replace"))
        except git_ai_format.NoteFormatError as exc:
            statuses[commit.sha] = "malformed"
            log.warning("a git-ai note of repo commit %s was not read: %s", commit.sha[:12], exc)
    specs = [f"{sha}:{f.path}" for sha, note in notes.items() for f in note.files
             if git_ai_format.can_name(f.path)]
    files = git_calls.read_objects(root, specs, MAX_FILE_BYTES)
    rows: dict[str, list[_Row]] = {}
    for sha, note in notes.items():
        statuses[sha] = "read"
        out = rows.setdefault(sha, [])
        for attestation in note.files:
            blob = files.get(f"{sha}:{attestation.path}")
            if blob is None:
                continue  # not in that commit (or binary-sized): nothing to key
            lines = lines_of(blob.decode("utf-8", "replace"))
            verdicts = git_ai_format.resolve(note, attestation, len(lines))
            for number, verdict in sorted(verdicts.items()):
                key = keyer.key(lines[number - 1])
                if key is not None:
                    out.append(_row(keyer, key, verdict))
    return rows, statuses


def _row(keyer: LineKeyer, key: int, verdict: git_ai_format.Verdict) -> _Row:
    agent = verdict.agent
    if verdict.source != "ai" or agent is None:
        return _Row(key, "human", None, None, None, None)
    conversation = agent.conversation_id
    session = (conversation if _PLAIN_ID.match(conversation)
               else f"git-ai:{keyer.label(conversation)}" if conversation else None)
    return _Row(key, "ai", names.tool_from_git_ai(agent.tool), agent.kind or DEFAULT_KIND,
                names.clean_model(agent.model), session)


def _store(con: Connection, repo_id: str, times: dict[str, float], rows: dict[str, list[_Row]],
           statuses: dict[str, str], blobs: dict[str, str]) -> None:
    now = dt.datetime.now(dt.UTC)
    with transaction(con):
        if statuses:
            con.execute("DELETE FROM git_ai_lines WHERE repo_id = $r AND sha IN "
                        "(SELECT unnest($s))", {"r": repo_id, "s": sorted(statuses)})
        for sha, lines in rows.items():
            if not lines:
                continue
            at = dt.datetime.fromtimestamp(times[sha], dt.UTC)
            con.execute(
                """
                INSERT INTO git_ai_lines
                SELECT $repo, $sha, unnest($keys), unnest($sources), unnest($tools),
                       unnest($kinds), unnest($models), unnest($sessions), $ts
                """,
                {"repo": repo_id, "sha": sha, "ts": at,
                 "keys": [r.line_key for r in lines], "sources": [r.source for r in lines],
                 "tools": [r.tool for r in lines], "kinds": [r.kind for r in lines],
                 "models": [r.model for r in lines], "sessions": [r.session_id for r in lines]},
            )
        for sha, status in statuses.items():
            lines = rows.get(sha, [])
            con.execute(
                "INSERT OR REPLACE INTO git_ai_notes VALUES (?, ?, ?, ?, ?, ?, ?)",
                [repo_id, sha, blobs[sha], status, sum(1 for r in lines if r.source == "ai"),
                 sum(1 for r in lines if r.source == "human"), now],
            )


def apply_notes(con: Connection, repo_id: str,
                processed_since: dt.datetime | None = None) -> tuple[int, int]:
    """Raise stored committed lines to what the notes say where that ranks higher; returns
    (lines changed, commits whose counts changed). Running it again changes nothing."""
    row = con.execute("SELECT count(*) FROM git_ai_lines WHERE repo_id = ?",
                      [repo_id]).fetchone()
    if not row or not row[0]:
        return 0, 0
    params = {"repo": repo_id, "since": processed_since}
    with transaction(con):
        changed = con.execute(
            f"""
            UPDATE commit_lines
            SET source = b.source, tool = b.tool, kind = b.kind, session_id = b.session_id
            FROM (
                SELECT l.sha, l.line_key, n.source, n.tool, n.kind, n.session_id
                FROM (SELECT DISTINCT sha, line_key FROM commit_lines
                      WHERE repo_id = $repo) AS l
                JOIN commits AS c ON c.repo_id = $repo AND c.sha = l.sha
                JOIN git_ai_lines AS n ON n.repo_id = $repo AND n.line_key = l.line_key
                     AND n.ts < c.committed_at + INTERVAL 1 SECOND
                WHERE $since::TIMESTAMPTZ IS NULL OR c.processed_at >= $since
                QUALIFY row_number() OVER (PARTITION BY l.sha, l.line_key
                                           ORDER BY {_RANK.format(col="n.source")},
                                                    n.ts DESC) = 1
            ) AS b
            WHERE commit_lines.repo_id = $repo AND commit_lines.sha = b.sha
              AND commit_lines.line_key = b.line_key
              AND {_RANK.format(col="b.source")} < {_RANK.format(col="commit_lines.source")}
            """,
            params,
        ).fetchone()
        lines_changed = int(changed[0]) if changed else 0
        if not lines_changed:
            return 0, 0
        recount = con.execute(
            """
            UPDATE commits
            SET ai_lines = x.ai, ai_modified_lines = x.ai_modified, human_lines = x.human,
                bulk_lines = x.bulk, external_lines = x.external, unknown_lines = x.unknown
            FROM (
                SELECT sha,
                       count(*) FILTER (WHERE source = 'ai') AS ai,
                       count(*) FILTER (WHERE source = 'ai_modified') AS ai_modified,
                       count(*) FILTER (WHERE source = 'human') AS human,
                       count(*) FILTER (WHERE source = 'bulk') AS bulk,
                       count(*) FILTER (WHERE source = 'external') AS external,
                       count(*) FILTER (WHERE source = 'unknown') AS unknown
                FROM commit_lines WHERE repo_id = $repo GROUP BY sha
            ) AS x
            WHERE commits.repo_id = $repo AND commits.sha = x.sha
              AND (commits.ai_lines <> x.ai OR commits.ai_modified_lines <> x.ai_modified
                   OR commits.human_lines <> x.human OR commits.bulk_lines <> x.bulk
                   OR commits.external_lines <> x.external
                   OR commits.unknown_lines <> x.unknown)
            """,
            {"repo": repo_id},
        ).fetchone()
    return lines_changed, int(recount[0]) if recount else 0
