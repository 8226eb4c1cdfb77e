"""Every number an export carries is bounded: over real HTTP, a bad one gets 400, nothing of
that request is spooled, and the receiver goes on serving."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx
import pytest
import requests
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
)
from opentelemetry.sdk.resources import Resource
from otlp_support import Running

from worktally.client.otlp import receiver as receiver_module
from worktally.client.otlp.numbers import MAX_COUNT

TIMEOUT_S = 10
SONNET = "claude-sonnet-4-20250514"
FORTY_DIGITS = "1234567890123456789012345678901234567890"
JSON_TYPE = {"Content-Type": "application/json"}
PROTOBUF_TYPE = {"Content-Type": "application/x-protobuf"}


def _api_request(tokens: dict[str, Any], request_id: str = "req_b1") -> dict[str, Any]:
    """One Claude Code `api_request` log record whose input_tokens is `tokens` (an AnyValue)."""
    return {
        "timeUnixNano": str(time.time_ns()), "body": {"stringValue": "claude_code.api_request"},
        "attributes": [
            {"key": "session.id", "value": {"stringValue": "sess-bounds"}},
            {"key": "model", "value": {"stringValue": SONNET}},
            {"key": "input_tokens", "value": tokens},
            {"key": "output_tokens", "value": {"intValue": "8"}},
            {"key": "request_id", "value": {"stringValue": request_id}},
        ],
    }


def _logs(*records: dict[str, Any]) -> dict[str, Any]:
    return {"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"logRecords": list(records)}],
    }]}


def _metric(name: str, *points: dict[str, Any]) -> dict[str, Any]:
    """A delta sum named `name` (a token.usage point has type `input`) with these values."""
    now = time.time_ns()
    return {"resourceMetrics": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeMetrics": [{"metrics": [{
            "name": name,
            "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": [
                {"startTimeUnixNano": str(now - 60_000_000_000), "timeUnixNano": str(now),
                 "attributes": [
                     {"key": "session.id", "value": {"stringValue": "sess-bounds"}},
                     {"key": "model", "value": {"stringValue": SONNET}},
                     {"key": "type", "value": {"stringValue": "input"}}],
                 **point}
                for point in points
            ]},
        }]}],
    }]}


def _post(running: Running, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{running.base}{path}", content=body, headers=headers, timeout=TIMEOUT_S)


def _assert_refused_then_serving(running: Running, response: httpx.Response,
                                 phrase: str) -> None:
    """400 saying `phrase`, an empty spool, and a good export accepted right after."""
    assert response.status_code == 400, response.text
    assert phrase in response.text
    assert running.spool.pending() == []
    good = json.dumps(_logs(_api_request({"intValue": "7"}, "req_good"))).encode()
    after = _post(running, "/v1/logs", good, JSON_TYPE)
    assert after.status_code == 200, after.text
    assert len(running.spool.pending()) == 1


@pytest.mark.parametrize(
    ("tokens", "phrase"),
    [
        ({"stringValue": "inf"}, "input_tokens is not finite"),
        ({"stringValue": "-inf"}, "input_tokens is not finite"),
        ({"stringValue": "nan"}, "input_tokens is not finite"),
        ({"stringValue": "1e300"}, "input_tokens is more than 10^15"),
        ({"doubleValue": 1e300}, "input_tokens is more than 10^15"),
        ({"doubleValue": "Infinity"}, "input_tokens is not finite"),
        ({"doubleValue": "NaN"}, "input_tokens is not finite"),
        ({"intValue": "-5"}, "input_tokens is negative (-5)"),
        ({"stringValue": "-5"}, "input_tokens is negative (-5)"),
        ({"doubleValue": 2.5}, "input_tokens is not a whole number (2.5)"),
        ({"stringValue": "2.5"}, "input_tokens is not a whole number (2.5)"),
        ({"stringValue": FORTY_DIGITS}, "input_tokens is more than 10^15"),
        ({"stringValue": FORTY_DIGITS + "0"}, "more than 40 characters"),
        ({"intValue": "9223372036854775807"}, "input_tokens is more than 10^15"),
        ({"intValue": str(MAX_COUNT + 1)}, "input_tokens is more than 10^15"),
        ({"stringValue": "12 tokens"}, "input_tokens is not a number"),
        ({"boolValue": True}, "input_tokens is a boolean"),
    ],
)
def test_a_bad_token_attribute_is_400(running: Running, tokens: dict[str, Any],
                                      phrase: str) -> None:
    body = json.dumps(_logs(_api_request(tokens))).encode()
    _assert_refused_then_serving(running, _post(running, "/v1/logs", body, JSON_TYPE), phrase)


@pytest.mark.parametrize(
    "tokens", [{"intValue": FORTY_DIGITS}, {"intValue": "1e300"}, {"intValue": 1e300},
               {"intValue": 2.5}, {"intValue": "inf"}],
)
def test_an_int_value_that_is_no_int64_is_400(running: Running, tokens: dict[str, Any]) -> None:
    body = json.dumps(_logs(_api_request(tokens))).encode()
    _assert_refused_then_serving(running, _post(running, "/v1/logs", body, JSON_TYPE),
                                 "body is not an OTLP export: ")


@pytest.mark.parametrize(
    ("point", "phrase"),
    [
        ({"asDouble": "Infinity"}, "claude_code.token.usage data point is not finite"),
        ({"asDouble": "-Infinity"}, "claude_code.token.usage data point is not finite"),
        ({"asDouble": "NaN"}, "claude_code.token.usage data point is not finite"),
        ({"asDouble": 1e300}, "claude_code.token.usage data point is more than 10^15"),
        ({"asDouble": "1e300"}, "claude_code.token.usage data point is more than 10^15"),
        ({"asDouble": -5}, "claude_code.token.usage data point is negative (-5)"),
        ({"asDouble": 2.5}, "claude_code.token.usage data point is not a whole number (2.5)"),
        ({"asInt": "-5"}, "claude_code.token.usage data point is negative (-5)"),
        ({"asInt": str(MAX_COUNT + 1)}, "claude_code.token.usage data point is more than"),
        ({"asInt": FORTY_DIGITS}, "body is not an OTLP export: "),
    ],
)
def test_a_bad_token_data_point_is_400(running: Running, point: dict[str, Any],
                                       phrase: str) -> None:
    body = json.dumps(_metric("claude_code.token.usage", point)).encode()
    _assert_refused_then_serving(running, _post(running, "/v1/metrics", body, JSON_TYPE),
                                 phrase)


@pytest.mark.parametrize(
    ("name", "point", "phrase"),
    [
        ("claude_code.cost.usage", {"asDouble": "Infinity"}, "cost.usage data point is not"),
        ("claude_code.cost.usage", {"asDouble": 1e300}, "cost.usage data point is more than"),
        ("claude_code.cost.usage", {"asDouble": -0.01}, "cost.usage data point is negative"),
        ("claude_code.commit.count", {"asDouble": 0.5}, "commit.count data point is not a whole"),
        ("claude_code.commit.count", {"asInt": "-1"}, "commit.count data point is negative"),
    ],
)
def test_a_bad_count_or_cost_is_400(running: Running, name: str, point: dict[str, Any],
                                    phrase: str) -> None:
    body = json.dumps(_metric(name, point)).encode()
    _assert_refused_then_serving(running, _post(running, "/v1/metrics", body, JSON_TYPE),
                                 phrase)


def test_points_that_sum_beyond_the_bound_are_400(running: Running) -> None:
    # Each point is allowed; their window's total is not.
    body = json.dumps(_metric("claude_code.token.usage", {"asInt": str(MAX_COUNT)},
                              {"asInt": "1"})).encode()
    _assert_refused_then_serving(running, _post(running, "/v1/metrics", body, JSON_TYPE),
                                 "summed over one window is more than 10^15")


def test_one_bad_record_refuses_the_whole_request(running: Running) -> None:
    body = json.dumps(_logs(_api_request({"intValue": "5"}, "req_fine"),
                            _api_request({"stringValue": "inf"}, "req_bad"))).encode()
    response = _post(running, "/v1/logs", body, JSON_TYPE)
    _assert_refused_then_serving(running, response, "input_tokens is not finite")
    spooled = b"".join(p.read_bytes() for p in running.spool.pending())
    assert b"req_fine" not in spooled


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_bare_json_constants_are_400(running: Running, literal: str) -> None:
    text = json.dumps(_logs(_api_request({"doubleValue": 1.0})))
    text = text.replace('"doubleValue": 1.0', f'"doubleValue": {literal}')
    assert literal in text
    response = _post(running, "/v1/logs", text.encode(), JSON_TYPE)
    _assert_refused_then_serving(running, response, f"{literal} is not JSON")


def _protobuf_metric(set_value: str, value: float) -> bytes:
    doc = _metric("claude_code.token.usage", {"asInt": "1"})
    request = json_format.ParseDict(doc, ExportMetricsServiceRequest())
    point = request.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]
    setattr(point, set_value, value)
    return request.SerializeToString()


@pytest.mark.parametrize(
    ("field", "value", "phrase"),
    [
        ("as_double", float("inf"), "is not finite"),
        ("as_double", float("nan"), "is not finite"),
        ("as_double", 1e300, "is more than 10^15"),
        ("as_double", 2.5, "is not a whole number"),
        ("as_int", -5, "is negative (-5)"),
        ("as_int", 2**63 - 1, "is more than 10^15"),
    ],
)
def test_bad_protobuf_data_points_are_400(running: Running, field: str, value: float,
                                          phrase: str) -> None:
    response = _post(running, "/v1/metrics", _protobuf_metric(field, value), PROTOBUF_TYPE)
    _assert_refused_then_serving(running, response, phrase)


def test_bad_protobuf_attribute_is_400(running: Running) -> None:
    request = json_format.ParseDict(_logs(_api_request({"intValue": "1"})),
                                    ExportLogsServiceRequest())
    attrs = request.resource_logs[0].scope_logs[0].log_records[0].attributes
    next(kv for kv in attrs if kv.key == "input_tokens").value.double_value = float("inf")
    response = _post(running, "/v1/logs", request.SerializeToString(), PROTOBUF_TYPE)
    _assert_refused_then_serving(running, response, "input_tokens is not finite")


def _sdk_export(running: Running, values: list[float]) -> MetricExportResult:
    """Record `values` on a real SDK counter and send them with the real OTLP exporter."""
    reader = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
    provider = MeterProvider(metric_readers=[reader],
                             resource=Resource.create({"service.name": "claude-code"}))
    tokens = provider.get_meter("m").create_counter("claude_code.token.usage")
    for value in values:
        tokens.add(value, {"session.id": "sess-sdk", "model": SONNET, "type": "input"})
    data = reader.get_metrics_data()
    provider.shutdown()
    session = requests.Session()
    session.trust_env = False
    exporter = OTLPMetricExporter(endpoint=f"{running.base}/v1/metrics", timeout=TIMEOUT_S,
                                  session=session)
    try:
        assert data is not None
        return exporter.export(data, timeout_millis=TIMEOUT_S * 1000)
    finally:
        exporter.shutdown()


def test_sdk_whole_doubles_are_counted(running: Running) -> None:
    # The JavaScript SDK behind Claude Code and Gemini CLI sends counters as doubles.
    assert _sdk_export(running, [1500.0, 20.0]) is MetricExportResult.SUCCESS
    con = running.drain_into_db()
    assert con.execute(
        "SELECT input_tokens FROM token_usage WHERE session_id = 'sess-sdk'"
    ).fetchall() == [(1520,)]


def test_sdk_fractional_tokens_are_refused_and_not_spooled(running: Running) -> None:
    assert _sdk_export(running, [2.5]) is MetricExportResult.FAILURE
    assert running.spool.pending() == []
    assert _sdk_export(running, [3.0]) is MetricExportResult.SUCCESS
    assert len(running.spool.pending()) == 1


def test_an_unexpected_error_is_a_500_and_the_receiver_serves_on(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: Any, context: Any) -> Any:
        raise RuntimeError("a bug in a mapper")

    logs = receiver_module.SIGNALS["/v1/logs"]
    monkeypatch.setitem(receiver_module.SIGNALS, "/v1/logs",
                        dataclasses.replace(logs, mapper=broken))
    good = json.dumps(_logs(_api_request({"intValue": "7"}, "req_after_bug"))).encode()
    response = _post(running, "/v1/logs", good, JSON_TYPE)
    assert response.status_code == 500
    assert response.text == "internal error"
    assert any(r.exc_info and "a bug in a mapper" in str(r.exc_info[1]) for r in caplog.records)
    assert running.spool.pending() == []
    monkeypatch.setitem(receiver_module.SIGNALS, "/v1/logs", logs)
    assert _post(running, "/v1/logs", good, JSON_TYPE).status_code == 200
