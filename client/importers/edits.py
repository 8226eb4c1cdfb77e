"""Helpers every parser shares: an agent's file write becomes keyed lines, and JSON values
from a tool's log become counts, strings and times without trusting their types.

A write is given as (new text, old text) pairs: lines of the new text that the old text did
not already hold are the agent's (`ImportContext.new_keys`). The text itself is dropped here;
only keys and counts leave.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from worktally.client.importers import apply_patch
from worktally.client.importers.batch import PendingEdit, parse_ts
from worktally.client.importers.context import ImportContext

Pairs = Sequence[tuple[str, str]]


def keyed_edit(ctx: ImportContext, path: str, cwd: str | None, session_id: str, pairs: Pairs,
               ts: float) -> PendingEdit:
    """The keyed lines one call writes to one file (relative paths start at `cwd`)."""
    keys: list[int] = []
    count = 0
    for new, old in pairs:
        k, n = ctx.new_keys(new, old)
        keys.extend(k)
        count += n
    repo_id, file_id = ctx.file_ids(path, cwd)
    return PendingEdit(file_id=file_id, repo_id=repo_id, session_id=session_id,
                       keys=tuple(keys), line_count=count, ts=ts)


def patch_edits(ctx: ImportContext, patch: str, cwd: str | None, session_id: str,
                ts: float) -> list[PendingEdit]:
    """One keyed edit per file an `apply_patch` envelope adds or updates."""
    return [keyed_edit(ctx, patched.path, cwd, session_id, [("\n".join(patched.added), "")], ts)
            for patched in apply_patch.parse_patch(patch)]


def diff_edits(ctx: ImportContext, diff: str, path: str, cwd: str | None, session_id: str,
               ts: float) -> PendingEdit:
    """The `+` lines of a unified diff (hunks only, headers skipped) as one file's edit."""
    added = [line[1:] for line in diff.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    return keyed_edit(ctx, path, cwd, session_id, [("\n".join(added), "")], ts)


def text(value: Any) -> str:
    """A string field, or the concatenation of a list of strings (notebook sources)."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def first_text(doc: dict[str, Any], names: Iterable[str]) -> str:
    """The first of several spellings of a field that holds a string ('' when none)."""
    for name in names:
        value = doc.get(name)
        if isinstance(value, str):
            return value
    return ""


def count(value: Any) -> int:
    """A non-negative token count from JSON (ints, integral floats, digit strings), else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value == value and value not in (float("inf"), -float("inf")):
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def name(value: Any) -> str | None:
    """A non-empty, stripped string, else None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def epoch(value: Any) -> float | None:
    """Seconds since the epoch from ISO-8601 text or a number of s, ms, µs or ns."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.isdigit():
            return epoch(int(stripped))
        return parse_ts(stripped)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    number = float(value)
    # The unit shows in the magnitude: 1.7e9 s, 1.7e12 ms, 1.7e15 µs, 1.7e18 ns.
    for scale in (1e18, 1e15, 1e12):
        if number >= scale / 10:
            return number / (scale / 1e9)
    return number


def hr_time(value: Any) -> float | None:
    """An OpenTelemetry JS `[seconds, nanoseconds]` pair as seconds."""
    if isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return float(value[0]) + value[1] / 1e9 if value[0] > 0 else None
    return None


def utc_day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d")


def obj(value: Any) -> dict[str, Any]:
    """A JSON object field, or an empty one when it is anything else."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """A JSON array field, or an empty one when it is anything else."""
    return value if isinstance(value, list) else []
