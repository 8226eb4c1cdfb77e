"""Agent Trace 0.1.0 export: every record passes the spec's field rules (our validator and the
spec's own JSON schema), and every range is exact at its commit in a real repo."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import stat
import time
from pathlib import Path

import pytest
from attribution_support import KEYER, numbered, open_db, record
from click.testing import CliRunner

from worktally.client.agent import pipeline
from worktally.client.capture.line_keys import counts, default_keyer
from worktally.client.capture.records import EditEvent, TokenUsage
from worktally.client.capture.spool import Spool
from worktally.client.cli import cli
from worktally.client.config import Config
from worktally.client.interop import agent_trace, agent_trace_check
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store.record_writers import write_token_usage

CFG = Config()
SCHEMA = (Path(__file__).resolve().parents[2] / "fixtures" / "interop"
          / "agent-trace-record-0.1.0.schema.json")
MODEL = "claude-sonnet-4-5-20250929"


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every test gets its own WORKTALLY_HOME."""


def _text(*blocks: list[str]) -> str:
    return "\n".join(line for block in blocks for line in block) + "\n"


def spec_problems(found: dict) -> list[str]:
    """The record checked against the spec's JSON schema (vendored, CC BY 4.0)."""
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    return [str(error) for error in validator.iter_errors(found)]


class Traced:
    """Two commits whose lines have every class, recorded and attributed by one install."""

    def __init__(self, tmp_path: Path, git_repo) -> None:
        self.repo = repo = git_repo()
        self.con = con = open_db(tmp_path)
        self.expected: dict[str, str] = {}  # line text -> contributor type
        groups = {
            "ai": numbered("claude", 5), "mixed": numbered("modified", 2),
            "human": numbered("typed", 3), "unknown": numbered("bulk", 2)
                                                     + numbered("external", 1)
                                                     + numbered("unseen", 2)}
        for kind, lines in groups.items():
            self.expected.update(dict.fromkeys(lines, kind))
        claude, modified, typed = groups["ai"], groups["mixed"], groups["human"]
        bulk, external, unseen = groups["unknown"][:2], groups["unknown"][2:3], \
            groups["unknown"][3:]
        now = int(time.time())
        seen = now - 600
        record(con, "ai", claude, tool="claude-code", session_id="sess-1", ts=seen)
        write_token_usage(con, [TokenUsage(usage_id="u1", session_id="sess-1",
                                           tool="claude-code", model=MODEL, input_tokens=3,
                                           output_tokens=4)])
        record(con, "ai_modified", modified, tool="copilot", kind="completion", ts=seen)
        record(con, "typed", typed, ts=seen)
        record(con, "bulk", bulk, ts=seen)
        record(con, "external", external, ts=seen)
        self.first = repo.commit("first", {
            "src/a.py": _text(["def main():"], claude[:2], [""], claude[2:3], ["    }"],
                              typed[:2], modified),
            "b dir/b.py": _text(bulk, external, [""], unseen)}, when=now - 300)
        # The second commit inserts lines in the middle of a.py and adds to its end, so its
        # ranges start where the new lines are, not at 1.
        self.second = repo.commit("second", {
            "src/a.py": _text(["def main():"], claude[:2], claude[3:], [""], claude[2:3],
                              ["    }"], typed[:2], modified, typed[2:])}, when=now - 200)
        self.registry = RepoRegistry(KEYER, tmp_path / "repos.json")
        self.registry.add(repo.root)
        pipeline.run_sync(con, KEYER, self.registry, CFG, time.time(), spool=Spool())

    def records(self, **options) -> list[dict]:
        repo = self.registry.list()[0]
        return list(agent_trace.records(self.con, KEYER, repo, "9.9.9", **options))


def _blamed(repo, sha: str, path: str) -> list[tuple[str, str]]:
    """(commit that last touched it, text) per line of `path` at `sha`."""
    out = repo.git("blame", "--line-porcelain", sha, "--", path)
    lines, current = [], ""
    for raw in out.split("\n"):
        if raw.startswith("\t"):
            lines.append((current, raw[1:]))
        elif len(raw) >= 40 and " " in raw and all(c in "0123456789abcdef" for c in raw[:40]):
            current = raw[:40]
    return lines


def test_every_range_is_exact_at_its_commit(tmp_path, git_repo):
    traced = Traced(tmp_path, git_repo)
    found = traced.records()
    assert [r["vcs"]["revision"] for r in found] == [traced.first, traced.second]
    for rec in found:
        sha = rec["vcs"]["revision"]
        covered: set[tuple[str, int]] = set()
        for item in rec["files"]:
            blame = _blamed(traced.repo, sha, item["path"])
            for conversation in item["conversations"]:
                who = conversation["contributor"]["type"]
                for span in conversation["ranges"]:
                    lines = range(span["start_line"], span["end_line"] + 1)
                    for n in lines:
                        commit, text = blame[n - 1]
                        assert commit == sha, "a range covers a line this commit did not add"
                        assert (item["path"], n) not in covered
                        covered.add((item["path"], n))
                        assert traced.expected.get(text, who) == who
                    ends = [blame[span["start_line"] - 1][1], blame[span["end_line"] - 1][1]]
                    assert all(counts(t) for t in ends), "a range starts or ends on trivia"
        # Every counted line the commit added is in exactly one range.
        paths = traced.repo.git("ls-tree", "-r", "--name-only", sha).splitlines()
        added = {(path, n) for path in paths
                 for n, (commit, text) in enumerate(_blamed(traced.repo, sha, path), start=1)
                 if commit == sha and counts(text)}
        assert added <= covered


def test_classes_map_to_contributor_types_and_ranges_to_line_numbers(tmp_path, git_repo):
    traced = Traced(tmp_path, git_repo)
    first, second = traced.records()
    files = {f["path"]: f["conversations"] for f in first["files"]}
    # a.py: 1 "def main():" unseen, 2-3 claude, 4 blank (bridged), 5 claude, 6 "}" (between
    # claude and typed: nobody's), 7-8 typed, 9-10 modified.
    assert files["src/a.py"] == [
        {"contributor": {"type": "unknown"}, "ranges": [{"start_line": 1, "end_line": 1}]},
        {"contributor": {"type": "ai", "model_id": f"anthropic/{MODEL}"},
         "ranges": [{"start_line": 2, "end_line": 5}]},
        {"contributor": {"type": "human"}, "ranges": [{"start_line": 7, "end_line": 8}]},
        {"contributor": {"type": "mixed"}, "ranges": [{"start_line": 9, "end_line": 10}]}]
    # b.py: bulk, external and unseen are all unknown, one run across the blank line.
    assert files["b dir/b.py"] == [{"contributor": {"type": "unknown"},
                                    "ranges": [{"start_line": 1, "end_line": 6}]}]
    (a,) = second["files"]
    assert a["conversations"] == [
        {"contributor": {"type": "ai", "model_id": f"anthropic/{MODEL}"},
         "ranges": [{"start_line": 4, "end_line": 5}]},
        {"contributor": {"type": "human"}, "ranges": [{"start_line": 13, "end_line": 13}]}]
    assert first["metadata"] == {"dev.worktally": {
        "line_classes": {"ai": 3, "ai_modified": 2, "human": 2, "bulk": 2, "external": 1,
                         "unknown": 3},
        "ai_lines_by_tool": {"claude-code": 3}}}
    assert first["tool"] == {"name": "worktally", "version": "9.9.9"}
    assert first["version"] == "0.1.0" and first["vcs"]["type"] == "git"
    assert traced.records()[0]["id"] == first["id"] != second["id"]
    assert "content_hash" not in json.dumps(first)


def test_every_record_passes_our_validator_and_the_spec_s_schema(tmp_path, git_repo):
    traced = Traced(tmp_path, git_repo)
    for found in traced.records() + traced.records(content_hashes=True):
        assert agent_trace_check.problems(found, strict=True) == []
        assert spec_problems(found) == []


def test_content_hashes_only_when_asked_and_of_the_range_s_text(tmp_path, git_repo):
    traced = Traced(tmp_path, git_repo)
    first = traced.records(content_hashes=True)[0]
    a = next(f for f in first["files"] if f["path"] == "src/a.py")
    span = a["conversations"][1]["ranges"][0]
    text = traced.repo.git("show", f"{traced.first}:src/a.py").split("\n")
    body = "\n".join(text[span["start_line"] - 1:span["end_line"]])
    assert span["content_hash"] == "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def test_since_and_unreachable_commits(tmp_path, git_repo):
    traced = Traced(tmp_path, git_repo)
    later = dt.datetime.fromtimestamp(time.time() + 86_400).astimezone()
    assert traced.records(since=later) == []
    traced.repo.git("reset", "-q", "--hard", "HEAD~1")
    pipeline.run_sync(traced.con, KEYER, traced.registry, CFG, time.time(), spool=Spool())
    assert [r["vcs"]["revision"] for r in traced.records()] == [traced.first]


GOOD = {
    "version": "0.1.0", "id": "550e8400-e29b-41d4-a716-446655440000",
    "timestamp": "2026-01-23T14:30:00Z",
    "vcs": {"type": "git", "revision": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"},
    "tool": {"name": "cursor", "version": "2.4.0"},
    "files": [{"path": "src/utils/parser.ts", "conversations": [{
        "url": "https://api.cursor.com/v1/conversations/12345",
        "contributor": {"type": "ai", "model_id": "anthropic/claude-opus-4-5-20251101"},
        "ranges": [{"start_line": 42, "end_line": 67, "content_hash": "murmur3:9f2e8a1b"}],
        "related": [{"type": "session", "url": "https://api.cursor.com/v1/sessions/67890"}]}]}],
    "metadata": {"confidence": 0.95, "dev.cursor": {"workspace_id": "ws-abc123"}},
}


def _broken(path: str, value: object) -> dict:
    found = copy.deepcopy(GOOD)
    target = found
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return found


RANGE = "files.0.conversations.0.ranges.0"


@pytest.mark.parametrize(("path", "value", "complaint"), [
    ("version", "1.0", "version like"),
    ("id", "not-a-uuid", "UUID"),
    ("timestamp", "2026-01-23 14:30", "date-time"),
    ("timestamp", "2026-02-30T10:00:00Z", "date-time"),
    ("files", KeyError, "'files' is required"),
    ("vcs.type", "cvs", "'type' must be one of"),
    ("vcs.revision", "abc123", "full commit id"),
    ("tool.version", KeyError, "'version' must be a string"),
    ("files.0.path", "/abs/path.ts", "relative"),
    ("files.0.conversations.0.url", "not a url", "URL"),
    ("files.0.conversations.0.contributor.type", "robot", "'type' must be one of"),
    ("files.0.conversations.0.contributor.model_id", "m" * 251, "at most 250"),
    ("files.0.conversations.0.ranges", KeyError, "'ranges' is required"),
    (f"{RANGE}.start_line", 0, "at least 1"),
    (f"{RANGE}.end_line", True, "integer"),
    (f"{RANGE}.end_line", 41, "before 'start_line'"),
    (f"{RANGE}.content_hash", 7, "content_hash"),
    ("files.0.conversations.0.related.0.url", "nope", "URL"),
    ("metadata", [], "'metadata' must be an object"),
])
def test_the_validator_refuses_each_broken_rule(path, value, complaint):
    assert agent_trace_check.problems(GOOD) == []
    assert spec_problems(GOOD) == []
    problems = agent_trace_check.problems(_broken(path, value))
    assert any(complaint in p for p in problems), problems


def test_strict_refuses_keys_the_spec_does_not_define():
    loose = _broken("files.0.conversations.0.colour", "blue")
    assert agent_trace_check.problems(loose) == []
    assert agent_trace_check.problems(loose, strict=True) == [
        "files[0].conversations[0]: keys the spec does not define: colour"]


def test_trace_export_command_writes_a_private_jsonl_file(tmp_path, git_repo, worktally_home):
    repo = git_repo()
    keyer = default_keyer()
    claude = numbered("claude", 3)
    Spool().write([EditEvent(source="ai", keys=tuple(keyer.keys(claude)), file_id="f",
                             tool="claude-code", kind="agent", session_id="s1",
                             line_count=3, ts=time.time() - 60)])
    sha = repo.commit("c", {"m.py": _text(claude, numbered("typed", 1))})
    runner = CliRunner()
    assert runner.invoke(cli, ["repos", "add", str(repo.root)]).exit_code == 0
    assert runner.invoke(cli, ["sync"]).exit_code == 0
    out = tmp_path / "traces.jsonl"
    result = runner.invoke(cli, ["trace", "export", "--repo", str(repo.root), "--out", str(out),
                                 "--since", time.strftime("%Y-%m-%d"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {"out": str(out), "records": 1, "repos": 1, "repo_errors": 0,
                       "content_hashes": False}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    (line,) = out.read_text(encoding="utf-8").splitlines()
    found = json.loads(line)
    assert found["vcs"]["revision"] == sha
    assert found["files"][0]["conversations"][0]["ranges"] == [{"start_line": 1, "end_line": 3}]
    assert agent_trace_check.problems(found, strict=True) == []
    to_stdout = runner.invoke(cli, ["trace", "export", "--content-hashes"])
    assert [json.loads(x)["id"] for x in to_stdout.stdout.splitlines()] == [found["id"]]
    assert "sha256:" in to_stdout.stdout
    refused = runner.invoke(cli, ["trace", "export", "--json"])
    assert refused.exit_code == 2 and "--out" in refused.output
