"""The OTLP receiver over real HTTP: exports from the OpenTelemetry SDK, JSON, gzip, limits."""

from __future__ import annotations

import gzip
import json
import logging
import time

import httpx
import pytest
import requests
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from otlp_support import CANARY, Running

TIMEOUT_S = 10
SONNET = "claude-sonnet-4-20250514"


def _session() -> requests.Session:
    # Never route loopback traffic through a proxy from the environment.
    session = requests.Session()
    session.trust_env = False
    return session


def _meter_provider(running: Running, temporality: AggregationTemporality,
                    gzip_body: bool = False) -> MeterProvider:
    exporter = OTLPMetricExporter(
        endpoint=f"{running.base}/v1/metrics", timeout=TIMEOUT_S, session=_session(),
        compression=Compression.Gzip if gzip_body else Compression.NoCompression,
        preferred_temporality={Counter: temporality},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "claude-code", "user.email": CANARY})
    return MeterProvider(metric_readers=[reader], resource=resource)


def test_sdk_delta_metrics_become_token_usage_and_counts(running: Running) -> None:
    provider = _meter_provider(running, AggregationTemporality.DELTA, gzip_body=True)
    meter = provider.get_meter("com.anthropic.claude_code")
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
    lines = meter.create_counter("claude_code.lines_of_code.count")
    commits = meter.create_counter("claude_code.commit.count")
    base = {"session.id": "sess-delta", "model": SONNET}
    for kind, value in (("input", 1500), ("output", 320), ("cacheRead", 4000),
                        ("cacheCreation", 250)):
        tokens.add(value, {**base, "type": kind})
    lines.add(12, {**base, "type": "added"})
    lines.add(3, {**base, "type": "removed"})
    commits.add(1, {"session.id": "sess-delta"})
    provider.force_flush()
    running.wait_for_batches(1)
    provider.shutdown()

    con = running.drain_into_db()
    row = con.execute(
        "SELECT tool, model, input_tokens, output_tokens, cache_read_tokens, "
        "cache_creation_tokens, origin FROM token_usage WHERE session_id = 'sess-delta'"
    ).fetchall()
    assert row == [("claude-code", SONNET, 1500, 320, 4000, 250, "otlp-metric")]
    counts = dict(con.execute(
        "SELECT metric, sum(value) FROM otlp_counts WHERE session_id = 'sess-delta' GROUP BY 1"
    ).fetchall())
    assert counts == {"lines_added": 12, "lines_removed": 3, "commits": 1}
    session = con.execute(
        "SELECT tool, kind, repo_id, has_cwd FROM ai_sessions WHERE session_id = 'sess-delta'"
    ).fetchall()
    assert session == [("claude-code", "agent", None, False)]


def test_cumulative_series_keeps_the_latest_total_not_the_sum(running: Running) -> None:
    provider = _meter_provider(running, AggregationTemporality.CUMULATIVE)
    tokens = provider.get_meter("m").create_counter("claude_code.token.usage")
    attrs = {"session.id": "sess-cum", "model": SONNET, "type": "output"}
    tokens.add(100, attrs)
    provider.force_flush()
    running.wait_for_batches(1)
    tokens.add(50, attrs)
    provider.force_flush()
    running.wait_for_batches(2)
    provider.shutdown()
    con = running.drain_into_db()
    rows = con.execute(
        "SELECT output_tokens FROM token_usage WHERE session_id = 'sess-cum'"
    ).fetchall()
    assert rows == [(150,)]


def test_sdk_log_events_become_per_request_usage_and_drop_text(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code"}))
    exporter = OTLPLogExporter(endpoint=f"{running.base}/v1/logs", timeout=TIMEOUT_S,
                               session=_session())
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("com.anthropic.claude_code")
    now_ns = time.time_ns()
    logger.emit(LogRecord(
        timestamp=now_ns, body="claude_code.user_prompt",
        attributes={"event.name": "user_prompt", "session.id": "sess-log",
                    "prompt": f"please write {CANARY}", "prompt_length": 30},
    ))
    logger.emit(LogRecord(
        timestamp=now_ns, body="claude_code.api_request",
        attributes={
            "event.name": "api_request", "session.id": "sess-log", "model": SONNET,
            # Claude Code sends some numbers as strings.
            "input_tokens": "12", "output_tokens": 340, "cache_read_tokens": 9000,
            "cache_creation_tokens": 70, "request_id": "req_011ABC", "cost_usd": 0.01,
            "user.email": CANARY, "tool_parameters": json.dumps({"file": CANARY}),
        },
    ))
    provider.force_flush()
    running.wait_for_batches(2)
    provider.shutdown()

    spooled = b"".join(p.read_bytes() for p in running.spool.pending())
    assert b"req_011ABC" in spooled
    assert CANARY.encode() not in spooled
    con = running.drain_into_db()
    rows = con.execute(
        "SELECT usage_id, input_tokens, output_tokens, cache_read_tokens, "
        "cache_creation_tokens, origin FROM token_usage"
    ).fetchall()
    assert rows == [("claude-code:req:req_011ABC", 12, 340, 9000, 70, "otlp")]
    con.close()
    db_bytes = b"".join(p.read_bytes() for p in running.home.glob("worktally.duckdb*"))
    assert db_bytes and CANARY.encode() not in db_bytes
    assert all(CANARY not in r.getMessage() for r in caplog.records)


def _json_logs_body(request_id: str) -> bytes:
    doc = {"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"scope": {"name": "claude_code"}, "logRecords": [{
            "timeUnixNano": str(time.time_ns()),
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": [
                {"key": "session.id", "value": {"stringValue": "sess-json"}},
                {"key": "model", "value": {"stringValue": SONNET}},
                {"key": "input_tokens", "value": {"intValue": "7"}},
                {"key": "output_tokens", "value": {"intValue": "8"}},
                {"key": "request_id", "value": {"stringValue": request_id}},
                {"key": "prompt", "value": {"stringValue": CANARY}},
            ],
        }]}],
    }]}
    return json.dumps(doc).encode()


def test_otlp_json_with_gzip_and_hex_ids(running: Running) -> None:
    body = gzip.compress(_json_logs_body("req_json1"))
    response = httpx.post(f"{running.base}/v1/logs", content=body, timeout=TIMEOUT_S,
                          headers={"Content-Type": "application/json",
                                   "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    con = running.drain_into_db()
    assert con.execute(
        "SELECT usage_id, input_tokens, output_tokens FROM token_usage"
    ).fetchall() == [("claude-code:req:req_json1", 7, 8)]


def test_resent_export_is_stored_once(running: Running) -> None:
    for _ in range(2):
        response = httpx.post(f"{running.base}/v1/logs", content=_json_logs_body("req_twice"),
                              headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)
        assert response.status_code == 200
    con = running.drain_into_db()
    assert con.execute("SELECT count(*) FROM token_usage").fetchone() == (1,)


def _post(running: Running, body: bytes, **headers: str) -> httpx.Response:
    base = {"Content-Type": "application/x-protobuf"}
    return httpx.post(f"{running.base}/v1/metrics", content=body, timeout=TIMEOUT_S,
                      headers={**base, **headers})


@pytest.mark.parametrize("host", ["evil.example", "evil.example:4319", "127.0.0.1.nip.io"])
def test_foreign_host_header_is_rejected(running: Running, host: str) -> None:
    assert _post(running, b"", Host=host).status_code == 403
    assert running.spool.pending() == []


def test_localhost_host_header_is_accepted(running: Running) -> None:
    assert _post(running, b"", Host=f"localhost:{running.port}").status_code == 200


def test_browser_origin_is_rejected(running: Running) -> None:
    assert _post(running, b"", Origin="http://evil.example").status_code == 403


def test_oversize_body_is_413(running: Running) -> None:
    assert _post(running, b"\x00" * 300_000).status_code == 413


def test_gzip_bomb_is_413(running: Running) -> None:
    bomb = gzip.compress(b"\x00" * 5_000_000)
    assert len(bomb) < 200_000
    assert _post(running, bomb, **{"Content-Encoding": "gzip"}).status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"\xff\xff\xff garbage", "application/x-protobuf", 400),
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"{}", "text/plain", 415),
    ],
)
def test_bad_input_gets_a_4xx(running: Running, body: bytes, content_type: str,
                              status: int) -> None:
    assert _post(running, body, **{"Content-Type": content_type}).status_code == status
    assert running.spool.pending() == []


def test_bad_gzip_and_wrong_method_and_path(running: Running) -> None:
    assert _post(running, b"not gzip", **{"Content-Encoding": "gzip"}).status_code == 400
    assert httpx.get(f"{running.base}/v1/metrics", timeout=TIMEOUT_S).status_code == 405
    other = httpx.post(f"{running.base}/v1/traces", content=b"",
                       headers={"Content-Type": "application/x-protobuf"}, timeout=TIMEOUT_S)
    assert other.status_code == 404


def test_listens_on_loopback_only(running: Running) -> None:
    assert running.receiver._server is not None
    assert running.receiver._server.server_address[0] == "127.0.0.1"
