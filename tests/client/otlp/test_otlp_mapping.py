"""OTLP mapping: Gemini CLI events, the attribute allow-list, and dedupe against transcripts."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from otlp_support import CANARY

from worktally.client.capture import records
from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.importers.batch import ImportBatch
from worktally.client.importers.claude_code import ClaudeCodeParser
from worktally.client.importers.context import ImportContext
from worktally.client.otlp.mapping import Mapped, MappingContext, map_logs, map_metrics
from worktally.client.otlp.numbers import OtlpValueError
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db
from worktally.client.store.drain import WRITERS

SONNET = "claude-sonnet-4-20250514"
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def keyer(worktally_home: Path) -> LineKeyer:
    return LineKeyer(load_or_create_secret())


@pytest.fixture
def con(worktally_home: Path) -> duckdb.DuckDBPyConnection:
    return db.connect(worktally_home / "worktally.duckdb")


def _context(keyer: LineKeyer, registry: RepoRegistry | None = None) -> MappingContext:
    def repo_for_cwd(cwd: str) -> str | None:
        repo = registry.find_containing(Path(cwd)) if registry else None
        return repo.repo_id if repo else None

    return MappingContext(repo_for_cwd=repo_for_cwd, label=keyer.label, now=T0)


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _logs(service: str, events_: list[tuple[str, dict[str, Any], float]],
          resource_extra: dict[str, Any] | None = None) -> ExportLogsServiceRequest:
    records = [
        {"timeUnixNano": str(int(ts * 1e9)), "body": {"stringValue": name},
         "attributes": [_attr(k, v) for k, v in attrs.items()]}
        for name, attrs, ts in events_
    ]
    resource = {"service.name": service, **(resource_extra or {})}
    doc = {"resourceLogs": [{
        "resource": {"attributes": [_attr(k, v) for k, v in resource.items()]},
        "scopeLogs": [{"logRecords": records}],
    }]}
    return json_format.ParseDict(doc, ExportLogsServiceRequest())


def _store(con: duckdb.DuckDBPyConnection, records: list[Any]) -> None:
    by_type: dict[str, list[Any]] = {}
    for r in records:
        by_type.setdefault(r.record_type, []).append(r)
    for record_type, items in by_type.items():
        WRITERS[record_type](con, items)


def _spool_text(mapped: Mapped) -> str:
    return json.dumps([records.to_dict(r) for r in mapped.records()])


def test_gemini_api_response_counts_cached_and_thought_tokens(keyer: LineKeyer) -> None:
    mapped = map_logs(_logs("gemini-cli", [("gemini_cli.api_response", {
        "session.id": "g-1", "model": "gemini-2.5-pro", "input_token_count": 1000,
        "cached_content_token_count": 600, "output_token_count": 50,
        "thoughts_token_count": 30, "tool_token_count": 5, "total_token_count": 1085,
        "response_text": CANARY, "prompt_id": CANARY,
    }, T0)]), _context(keyer))
    [usage] = mapped.usages
    assert (usage.tool, usage.model, usage.session_id) == ("gemini-cli", "gemini-2.5-pro", "g-1")
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (405, 80, 600)
    # Every token of Gemini's own total is counted exactly once.
    assert usage.input_tokens + usage.output_tokens + usage.cache_read_tokens == 1085
    assert CANARY not in _spool_text(mapped)


def test_only_allow_listed_attributes_survive(keyer: LineKeyer) -> None:
    mapped = map_logs(_logs("claude-code", [
        ("claude_code.user_prompt", {"session.id": "c-1", "prompt": CANARY}, T0),
        ("claude_code.tool_result", {"session.id": "c-1", "tool_parameters": CANARY}, T0),
        ("claude_code.api_request", {
            "session.id": "c-1", "model": f"{CANARY} with spaces", "input_tokens": 5,
            "output_tokens": 6, "request_id": "req_1", "some_future_field": CANARY,
        }, T0),
    ], resource_extra={"user.email": CANARY, "host.name": CANARY}), _context(keyer))
    assert [u.model for u in mapped.usages] == ["unknown"]
    assert [s.session_id for s in mapped.sessions] == ["c-1"]
    assert CANARY not in _spool_text(mapped)


def test_cwd_attribute_becomes_a_keyed_repo_id(keyer: LineKeyer, git_repo: Any) -> None:
    repo = git_repo("secret-project-name")
    registry = RepoRegistry(keyer)
    registered = registry.add(repo.root)
    mapped = map_logs(_logs("claude-code", [("claude_code.api_request", {
        "session.id": "c-2", "model": SONNET, "input_tokens": 1, "output_tokens": 1,
    }, T0)], resource_extra={"worktally.cwd": str(repo.root / "src")}),
        _context(keyer, registry))
    [session] = mapped.sessions
    assert session.repo_id == registered.repo_id and session.has_cwd
    assert "secret-project-name" not in _spool_text(mapped)


def _transcript_usage(keyer: LineKeyer, request_id: str, ts: str,
                      usage: dict[str, int]) -> list[Any]:
    """Run one assistant line through the real Claude Code transcript importer."""
    batch = ImportBatch(tool="claude-code")
    parser = ClaudeCodeParser(ImportContext(keyer, RepoRegistry(keyer)), batch, {})
    line = {"type": "assistant", "sessionId": "c-3", "cwd": "/nowhere", "version": "1.0.98",
            "timestamp": ts, "requestId": request_id, "isSidechain": False,
            "message": {"id": f"msg_{request_id}", "model": SONNET, "usage": usage}}
    parser.feed(json.dumps(line, separators=(",", ":")).encode(), 0)
    assert batch.usages, "the importer should have read the usage line"
    return [*batch.usages.values(), *batch.sessions.values()]


def _effective(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return sorted(con.execute(
        "SELECT usage_id, origin FROM token_usage_effective"
    ).fetchall())


def test_api_request_with_the_transcripts_request_id_counts_once(
    keyer: LineKeyer, con: duckdb.DuckDBPyConnection
) -> None:
    usage = {"input_tokens": 3, "output_tokens": 120, "cache_read_input_tokens": 10,
             "cache_creation_input_tokens": 5}
    _store(con, _transcript_usage(keyer, "req_shared", "2026-11-20T10:00:00.000Z", usage))
    mapped = map_logs(_logs("claude-code", [
        ("claude_code.api_request", {"session.id": "c-3", "model": SONNET, "input_tokens": 3,
                                     "output_tokens": 120, "cache_read_tokens": 10,
                                     "cache_creation_tokens": 5, "request_id": "req_shared"},
         T0 + 2),
        ("claude_code.api_request", {"session.id": "c-3", "model": SONNET, "input_tokens": 1,
                                     "output_tokens": 2, "request_id": "req_otlp_only"}, T0 + 9),
    ]), _context(keyer))
    _store(con, mapped.records())
    assert con.execute("SELECT count(*) FROM token_usage").fetchone() == (3,)
    assert _effective(con) == [("cc:msg_req_shared:req_shared", "transcript"),
                               ("claude-code:req:req_otlp_only", "otlp")]


def test_without_request_id_equal_tokens_within_a_minute_count_once(
    keyer: LineKeyer, con: duckdb.DuckDBPyConnection
) -> None:
    usage = {"input_tokens": 4, "output_tokens": 44, "cache_read_input_tokens": 0,
             "cache_creation_input_tokens": 0}
    _store(con, _transcript_usage(keyer, "req_t", "2026-11-20T10:00:00.000Z", usage))
    same = {"session.id": "c-3", "model": SONNET, "input_tokens": 4, "output_tokens": 44}
    other = {**same, "output_tokens": 45}
    mapped = map_logs(_logs("claude-code", [
        ("claude_code.api_request", same, T0 + 30),
        ("claude_code.api_request", other, T0 + 31),
        ("claude_code.api_request", same, T0 + 600),
    ]), _context(keyer))
    _store(con, mapped.records())
    kept = con.execute(
        "SELECT output_tokens, epoch(ts) - ? FROM token_usage_effective "
        "WHERE origin = 'otlp' ORDER BY ts", [T0]
    ).fetchall()
    assert kept == [(45, 31.0), (44, 600.0)]


def _token_metric(session: str, value: int, start: float, end: float) -> dict[str, Any]:
    return {"name": "claude_code.token.usage", "sum": {
        "aggregationTemporality": 1, "isMonotonic": True,
        "dataPoints": [{"startTimeUnixNano": str(int(start * 1e9)),
                        "timeUnixNano": str(int(end * 1e9)), "asDouble": value,
                        "attributes": [_attr("session.id", session), _attr("model", SONNET),
                                       _attr("type", "output")]}]}}


def test_metric_tokens_yield_to_per_request_events_of_the_same_session(
    keyer: LineKeyer, con: duckdb.DuckDBPyConnection
) -> None:
    request = json_format.ParseDict({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        _token_metric("both", 500, T0, T0 + 60), _token_metric("metric-only", 70, T0, T0 + 60),
    ]}]}]}, ExportMetricsServiceRequest())
    _store(con, map_metrics(request, _context(keyer)).records())
    _store(con, map_logs(_logs("claude-code", [("claude_code.api_request", {
        "session.id": "both", "model": SONNET, "input_tokens": 1, "output_tokens": 500,
        "request_id": "req_b"}, T0 + 30)]), _context(keyer)).records())
    rows = sorted(con.execute(
        "SELECT session_id, origin, output_tokens FROM token_usage_effective"
    ).fetchall())
    assert rows == [("both", "otlp", 500), ("metric-only", "otlp-metric", 70)]


def test_unknown_tools_are_ignored(keyer: LineKeyer) -> None:
    mapped = map_logs(_logs("some-other-service", [
        ("api_request", {"session.id": "x", "input_tokens": 5}, T0),
    ]), _context(keyer))
    assert mapped.records() == []


@pytest.mark.parametrize(("tokens", "reason"), [("many", "not a number"),
                                                ("-3", "negative (-3)")])
def test_a_count_that_is_no_count_refuses_the_export(keyer: LineKeyer, tokens: str,
                                                     reason: str) -> None:
    # It used to be read as 0, silently; now the exporter hears why (the receiver's 400).
    request = _logs("claude-code", [("claude_code.api_request", {
        "session.id": "c-9", "model": SONNET, "input_tokens": 12, "output_tokens": tokens,
    }, T0)])
    with pytest.raises(OtlpValueError, match=re.escape(f"attribute output_tokens is {reason}")):
        map_logs(request, _context(keyer))


def _sum_metric(name: str, temporality: int, points: list[tuple[dict[str, Any], int, float]],
                start: float) -> dict[str, Any]:
    return {"name": name, "sum": {"aggregationTemporality": temporality, "isMonotonic": True,
                                  "dataPoints": [
        {"startTimeUnixNano": str(int(start * 1e9)), "timeUnixNano": str(int(end * 1e9)),
         "asInt": str(value), "attributes": [_attr(k, v) for k, v in attrs.items()]}
        for attrs, value, end in points]}}


def test_gemini_token_metric_splits_cached_tokens_out_of_input(keyer: LineKeyer) -> None:
    base = {"session.id": "g-2", "model": "gemini-2.5-flash"}
    points = [({**base, "type": kind}, value, T0 + 60) for kind, value in
              (("input", 900), ("cache", 400), ("output", 40), ("thought", 25), ("tool", 10))]
    request = json_format.ParseDict({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        _sum_metric("gemini_cli.token.usage", 1, points, T0)]}]}]},
        ExportMetricsServiceRequest())
    [usage] = map_metrics(request, _context(keyer)).usages
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (510, 400, 65)
    assert usage.origin == "otlp-metric" and usage.tool == "gemini-cli"


def test_cumulative_line_counts_keep_the_latest_total(
    keyer: LineKeyer, con: duckdb.DuckDBPyConnection
) -> None:
    for total, end in ((10, T0 + 60), (25, T0 + 120), (25, T0 + 180)):
        request = json_format.ParseDict({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            _sum_metric("gemini_cli.lines.changed", 2,
                        [({"session.id": "g-3", "type": "added"}, total, end)], T0)]}]}]},
            ExportMetricsServiceRequest())
        _store(con, map_metrics(request, _context(keyer)).records())
    assert con.execute(
        "SELECT metric, value, epoch(window_end) - ? FROM otlp_counts", [T0]
    ).fetchall() == [("lines_added", 25, 120.0)]
