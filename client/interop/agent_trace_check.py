"""The field rules of an Agent Trace 0.1.0 record, checked in code (no schema library).

Written from the spec's JSON schema (cursor/agent-trace README, section 6.1) and its zod
source (`schemas.ts`), plus two rules of the spec's text: a git revision is a full commit
id (section 6.4) and a path is relative to the repository root. The zod source requires
`tool.name` and `tool.version`; its `url` fields are URLs, `id` a UUID, `timestamp` an RFC
3339 date-time. `strict` also refuses keys the spec does not define, which the schema
allows; worktally's own records are checked strictly before they are written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

CONTRIBUTOR_TYPES = ("human", "ai", "mixed", "unknown")
VCS_TYPES = ("git", "jj", "hg", "svn")
MAX_MODEL_ID = 250
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_GIT_SHA = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})$")
_KEYS = {
    "record": {"version", "id", "timestamp", "vcs", "tool", "files", "metadata"},
    "vcs": {"type", "revision"},
    "tool": {"name", "version"},
    "file": {"path", "conversations"},
    "conversation": {"url", "contributor", "ranges", "related"},
    "contributor": {"type", "model_id"},
    "range": {"start_line", "end_line", "content_hash", "contributor"},
    "related": {"type", "url"},
}


def problems(record: Any, strict: bool = False) -> list[str]:
    """Every rule the record breaks, as "where: what" lines; empty when it is valid."""
    out: list[str] = []
    if not _object(record, "record", out, strict):
        return out
    for name in ("version", "id", "timestamp", "files"):
        if name not in record:
            out.append(f"record: '{name}' is required")
    _string(record, "version", "record", out, _VERSION.match, "a version like 0.1.0")
    _string(record, "id", "record", out, _UUID.match, "a UUID")
    _string(record, "timestamp", "record", out, _is_date_time, "an RFC 3339 date-time")
    if "vcs" in record:
        _vcs(record["vcs"], out, strict)
    if "tool" in record and _object(record["tool"], "tool", out, strict):
        for name in ("name", "version"):
            if not isinstance(record["tool"].get(name), str):
                out.append(f"tool: '{name}' must be a string")
    if "metadata" in record and not isinstance(record["metadata"], dict):
        out.append("record: 'metadata' must be an object")
    files = record.get("files")
    if "files" in record and not isinstance(files, list):
        out.append("record: 'files' must be an array")
    for i, item in enumerate(files if isinstance(files, list) else []):
        _file(item, f"files[{i}]", out, strict)
    return out


def _vcs(vcs: Any, out: list[str], strict: bool) -> None:
    if not _object(vcs, "vcs", out, strict):
        return
    kind, revision = vcs.get("type"), vcs.get("revision")
    if kind not in VCS_TYPES:
        out.append(f"vcs: 'type' must be one of {', '.join(VCS_TYPES)}")
    if not isinstance(revision, str):
        out.append("vcs: 'revision' is required and must be a string")
    elif kind == "git" and not _GIT_SHA.match(revision):
        out.append("vcs: a git 'revision' is a full commit id (40 hex characters)")


def _file(item: Any, where: str, out: list[str], strict: bool) -> None:
    if not _object(item, "file", out, strict, where):
        return
    path = item.get("path")
    if not isinstance(path, str) or not path:
        out.append(f"{where}: 'path' is required and must be a string")
    elif path.startswith("/") or ".." in path.split("/"):
        out.append(f"{where}: 'path' must be relative to the repository root")
    conversations = item.get("conversations")
    if not isinstance(conversations, list):
        out.append(f"{where}: 'conversations' is required and must be an array")
        return
    for j, conversation in enumerate(conversations):
        _conversation(conversation, f"{where}.conversations[{j}]", out, strict)


def _conversation(item: Any, where: str, out: list[str], strict: bool) -> None:
    if not _object(item, "conversation", out, strict, where):
        return
    if "url" in item and not _is_url(item["url"]):
        out.append(f"{where}: 'url' must be a URL")
    if "contributor" in item:
        _contributor(item["contributor"], f"{where}.contributor", out, strict)
    ranges = item.get("ranges")
    if not isinstance(ranges, list):
        out.append(f"{where}: 'ranges' is required and must be an array")
    else:
        for k, span in enumerate(ranges):
            _range(span, f"{where}.ranges[{k}]", out, strict)
    related = item.get("related")
    if "related" in item and not isinstance(related, list):
        out.append(f"{where}: 'related' must be an array")
    for k, link in enumerate(related if isinstance(related, list) else []):
        here = f"{where}.related[{k}]"
        if _object(link, "related", out, strict, here):
            if not isinstance(link.get("type"), str):
                out.append(f"{here}: 'type' is required and must be a string")
            if not _is_url(link.get("url")):
                out.append(f"{here}: 'url' is required and must be a URL")


def _contributor(item: Any, where: str, out: list[str], strict: bool) -> None:
    if not _object(item, "contributor", out, strict, where):
        return
    if item.get("type") not in CONTRIBUTOR_TYPES:
        out.append(f"{where}: 'type' must be one of {', '.join(CONTRIBUTOR_TYPES)}")
    model = item.get("model_id")
    if "model_id" in item and (not isinstance(model, str) or len(model) > MAX_MODEL_ID):
        out.append(f"{where}: 'model_id' must be a string of at most {MAX_MODEL_ID} characters")


def _range(item: Any, where: str, out: list[str], strict: bool) -> None:
    if not _object(item, "range", out, strict, where):
        return
    lines = []
    for name in ("start_line", "end_line"):
        value = item.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            out.append(f"{where}: '{name}' is required and must be an integer of at least 1")
        else:
            lines.append(value)
    if len(lines) == 2 and lines[1] < lines[0]:
        out.append(f"{where}: 'end_line' is before 'start_line'")
    if "content_hash" in item and not isinstance(item["content_hash"], str):
        out.append(f"{where}: 'content_hash' must be a string")
    if "contributor" in item:
        _contributor(item["contributor"], f"{where}.contributor", out, strict)


def _object(item: Any, kind: str, out: list[str], strict: bool, where: str = "") -> bool:
    where = where or kind
    if not isinstance(item, dict):
        out.append(f"{where}: must be an object")
        return False
    if strict:
        extra = sorted(set(item) - _KEYS[kind])
        if extra:
            out.append(f"{where}: keys the spec does not define: {', '.join(extra)}")
    return True


def _string(record: Mapping[str, Any], name: str, where: str, out: list[str],
            rule: Any, what: str) -> None:
    if name in record and (not isinstance(record[name], str) or not rule(record[name])):
        out.append(f"{where}: '{name}' must be {what}")


def _is_date_time(value: str) -> bool:
    if not _DATE_TIME.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value
