"""Turn OTLP metric and log exports of AI coding tools into worktally records.

Only allow-listed numeric and id attributes are ever read; every other attribute (prompts,
tool parameters, response text, e-mail addresses) is dropped here, before anything reaches
the spool. Every count read is checked against `numbers`' bounds, and one out of bounds
fails the whole export. Counting rules are in docs/developer.md ("OpenTelemetry").
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from worktally.client.capture.records import AISession, OtlpCount, TokenUsage
from worktally.client.otlp.numbers import count, micro_amount, total

Scalar = str | int | float | bool

# The only attributes read. Anything else is never looked at, so new attributes a tool adds
# later (which may carry text) are dropped by default.
ALLOWED_ATTRIBUTES = frozenset(
    {
        "session.id", "model", "type", "request_id", "event.name", "event.timestamp",
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
        "input_token_count", "output_token_count", "cached_content_token_count",
        "thoughts_token_count", "tool_token_count", "query_source", "service.name",
        "speed", "worktally.cwd",
    }
)
# Allow-listed attributes that hold counts: read as bounded whole numbers, whatever their type.
COUNT_ATTRIBUTES = frozenset(
    {
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
        "input_token_count", "output_token_count", "cached_content_token_count",
        "thoughts_token_count", "tool_token_count",
    }
)
# Ids and model names are short tokens; a value that is not is dropped, not truncated.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@/+\-\[\]<>]{1,160}$")
_TOOL_PREFIXES = {"claude_code.": "claude-code", "gemini_cli.": "gemini-cli"}
_SERVICE_TOOLS = {"claude-code": "claude-code", "gemini-cli": "gemini-cli",
                  "gemini_cli": "gemini-cli"}
NO_SESSION = "no-session"

# token.usage `type` values -> TokenUsage field. Gemini's `input` includes cached tokens and
# its tool-use prompt tokens are input too; `thought` tokens are billed as output.
_TOKEN_TYPES = {
    "input": "input", "output": "output", "cacheRead": "cache_read",
    "cacheCreation": "cache_creation", "cache": "cache_read", "thought": "output",
    "tool": "input",
}
_COUNT_METRICS = {
    "lines_of_code.count": "lines", "lines.changed": "lines",
    "commit.count": "commits", "pull_request.count": "pull_requests",
}


@dataclass(frozen=True)
class MappingContext:
    """What the pure mapping needs from outside: cwd -> repo_id, and a keyed hash."""

    repo_for_cwd: Callable[[str], str | None]
    label: Callable[[str], str]
    now: float


@dataclass(frozen=True)
class Mapped:
    sessions: tuple[AISession, ...] = ()
    usages: tuple[TokenUsage, ...] = ()
    counts: tuple[OtlpCount, ...] = ()

    def records(self) -> list[Any]:
        return [*self.sessions, *self.usages, *self.counts]


@dataclass
class _SessionSpan:
    tool: str
    repo_id: str | None = None
    cwd_seen: bool = False
    first: float = float("inf")
    last: float = 0.0

    def see(self, ts: float) -> None:
        self.first = min(self.first, ts)
        self.last = max(self.last, ts)


@dataclass
class _Collector:
    context: MappingContext
    spans: dict[str, _SessionSpan] = field(default_factory=dict)
    usages: list[TokenUsage] = field(default_factory=list)
    counts: list[OtlpCount] = field(default_factory=list)

    def session(self, tool: str, attrs: dict[str, Scalar], ts: float) -> str:
        raw = _id(attrs.get("session.id"))
        if raw is None:
            return f"{tool}:{NO_SESSION}"
        span = self.spans.setdefault(raw, _SessionSpan(tool=tool))
        span.see(ts)
        cwd = attrs.get("worktally.cwd")
        if span.repo_id is None and isinstance(cwd, str):
            span.cwd_seen = True
            span.repo_id = self.context.repo_for_cwd(cwd)
        return raw

    def result(self) -> Mapped:
        sessions = tuple(
            AISession(session_id=sid, tool=s.tool, kind="agent", repo_id=s.repo_id,
                      started_at=s.first, ended_at=s.last, has_cwd=s.cwd_seen)
            for sid, s in self.spans.items()
        )
        return Mapped(sessions=sessions, usages=tuple(self.usages), counts=tuple(self.counts))


def _scalar(kv: KeyValue) -> Scalar | None:
    which = kv.value.WhichOneof("value")
    if which in ("string_value", "int_value", "double_value", "bool_value"):
        value: Scalar = getattr(kv.value, which)
        return value
    return None


def allowed_attributes(*groups: Iterable[KeyValue]) -> dict[str, Scalar]:
    """Scalar values of the allow-listed keys, counts as bounded ints; nothing else is read.

    Raises OtlpValueError when a count attribute is not a whole number from 0 to MAX_COUNT.
    """
    out: dict[str, Scalar] = {}
    for group in groups:
        for kv in group:
            if kv.key in ALLOWED_ATTRIBUTES:
                value = _scalar(kv)
                if value is not None and kv.key in COUNT_ATTRIBUTES:
                    value = count(value, f"attribute {kv.key}")
                if value is not None:
                    out[kv.key] = value
    return out


def _id(value: Scalar | None) -> str | None:
    if isinstance(value, str) and _ID_PATTERN.match(value):
        return value
    return None


def _model(attrs: dict[str, Scalar]) -> str:
    model = _id(attrs.get("model")) or "unknown"
    # Named as the transcript importer names it, so both sources agree (and dedupe).
    return f"{model}-fast" if attrs.get("speed") == "fast" else model


def _count(attrs: dict[str, Scalar], key: str) -> int:
    """A count attribute (already bounded by `allowed_attributes`), 0 when absent."""
    value = attrs.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _tool(name: str, resource: dict[str, Scalar]) -> tuple[str | None, str]:
    """(tool, name without the tool prefix) from a metric/event name or service.name."""
    for prefix, tool in _TOOL_PREFIXES.items():
        if name.startswith(prefix):
            return tool, name[len(prefix):]
    service = resource.get("service.name")
    return (_SERVICE_TOOLS.get(service) if isinstance(service, str) else None), name


def _seconds(nanos: int) -> float:
    return nanos / 1e9


def _iso_seconds(value: Scalar | None) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class _TokenWindow:
    start: int
    end: int
    fields: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def map_metrics(request: ExportMetricsServiceRequest, context: MappingContext) -> Mapped:
    """Token usage and line/commit counters from `*.token.usage` and friends."""
    collector = _Collector(context)
    windows: dict[tuple[str, str, str, int | None], _TokenWindow] = {}
    for resource_metrics in request.resource_metrics:
        resource = allowed_attributes(resource_metrics.resource.attributes)
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                tool, short = _tool(metric.name, resource)
                if tool is None:
                    continue
                if short == "token.usage":
                    _token_points(collector, tool, metric, resource, windows)
                elif short in _COUNT_METRICS or short == "cost.usage":
                    _count_points(collector, tool, short, metric, resource)
    for (tool, session, model, delta_end), window in windows.items():
        fields = window.fields
        cache_read = fields["cache_read"]
        input_tokens = fields["input"]
        if tool == "gemini-cli":
            input_tokens = max(0, input_tokens - cache_read)
        span = f"{window.start}-{delta_end if delta_end is not None else 'cumulative'}"
        collector.usages.append(TokenUsage(
            usage_id=f"{tool}:metric:{session}:{model}:{span}", session_id=session,
            tool=tool, model=model, input_tokens=input_tokens, output_tokens=fields["output"],
            cache_creation_tokens=fields["cache_creation"], cache_read_tokens=cache_read,
            origin="otlp-metric", ts=_seconds(window.end) or context.now,
        ))
    return collector.result()


def _data_points(metric: Metric) -> tuple[Any, bool]:
    """The number data points of a sum or gauge, and whether they are cumulative."""
    kind = metric.WhichOneof("data")
    if kind == "sum":
        cumulative = (metric.sum.aggregation_temporality
                      == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE)
        return metric.sum.data_points, cumulative
    if kind == "gauge":
        return metric.gauge.data_points, True
    return (), False


def _point_value(point: Any) -> int | float:
    """`as_int` or `as_double`, unconverted: the bounds check sees what was sent."""
    which = point.WhichOneof("value")
    value: int | float = getattr(point, which) if which else 0
    return value


def _token_points(
    collector: _Collector, tool: str, metric: Metric, resource: dict[str, Scalar],
    out: dict[tuple[str, str, str, int | None], _TokenWindow],
) -> None:
    """Gather one export's token points per (session, model) and collection window.

    Every point of one delta collection shares its end time, so one row holds all token
    types of that window. A cumulative export repeats each series' running total: its row
    is keyed by the earliest series start, so the next export upserts the same row and
    the drain keeps the larger (newer) total instead of adding it again.
    """
    points, cumulative = _data_points(metric)
    for point in points:
        attrs = {**resource, **allowed_attributes(point.attributes)}
        target = _TOKEN_TYPES.get(str(attrs.get("type", "")))
        if target is None:
            continue
        ts = _seconds(point.time_unix_nano) or collector.context.now
        session = collector.session(tool, attrs, ts)
        key = (tool, session, _model(attrs), None if cumulative else point.time_unix_nano)
        window = out.setdefault(key, _TokenWindow(start=point.start_time_unix_nano,
                                                  end=point.time_unix_nano))
        window.start = min(window.start, point.start_time_unix_nano)
        window.end = max(window.end, point.time_unix_nano)
        value = count(_point_value(point), f"{metric.name} data point")
        window.fields[target] = total([window.fields[target], value],
                                      f"{metric.name} summed over one window")


def _count_points(collector: _Collector, tool: str, short: str, metric: Metric,
                  resource: dict[str, Scalar]) -> None:
    points, cumulative = _data_points(metric)
    for point in points:
        attrs = {**resource, **allowed_attributes(point.attributes)}
        if short == "cost.usage":
            name = "cost_microusd"
            value = micro_amount(_point_value(point), f"{metric.name} data point")
        else:
            name = _COUNT_METRICS[short]
            kind = attrs.get("type")
            if name == "lines":
                if kind not in ("added", "removed"):
                    continue
                name = f"lines_{kind}"
            value = count(_point_value(point), f"{metric.name} data point")
        ts = _seconds(point.time_unix_nano) or collector.context.now
        session = collector.session(tool, attrs, ts)
        model = _id(attrs.get("model")) or ""
        end = None if cumulative else point.time_unix_nano
        window = f"{point.start_time_unix_nano}-{end if end is not None else 'cumulative'}"
        collector.counts.append(OtlpCount(
            count_id=f"{tool}:{name}:{session}:{model}:{window}", tool=tool,
            session_id=session, metric=name, value=value,
            window_start=_seconds(point.start_time_unix_nano) or ts, window_end=ts,
            cumulative=cumulative,
        ))


def map_logs(request: ExportLogsServiceRequest, context: MappingContext) -> Mapped:
    """One TokenUsage per `claude_code.api_request` / `gemini_cli.api_response` event."""
    collector = _Collector(context)
    for resource_logs in request.resource_logs:
        resource = allowed_attributes(resource_logs.resource.attributes)
        for scope in resource_logs.scope_logs:
            for record in scope.log_records:
                attrs = {**resource, **allowed_attributes(record.attributes)}
                name = _event_name(record, attrs)
                tool, short = _tool(name, resource)
                if tool is None:
                    continue
                ts = (_iso_seconds(attrs.get("event.timestamp"))
                      or _seconds(record.time_unix_nano)
                      or _seconds(record.observed_time_unix_nano) or context.now)
                session = collector.session(tool, attrs, ts)
                usage = _request_usage(tool, short, session, attrs, ts, record, context)
                if usage is not None:
                    collector.usages.append(usage)
    return collector.result()


def _event_name(record: Any, attrs: dict[str, Scalar]) -> str:
    # Claude Code puts the full name in the body and the short one in `event.name`;
    # newer SDKs fill LogRecord.event_name. Only a short id-like body is trusted as a name.
    if getattr(record, "event_name", ""):
        return str(record.event_name)
    body = record.body.string_value if record.body.WhichOneof("value") == "string_value" else ""
    if _id(body) and any(body.startswith(p) for p in _TOOL_PREFIXES):
        return body
    name = attrs.get("event.name")
    return name if isinstance(name, str) else ""


def _request_usage(tool: str, short: str, session: str, attrs: dict[str, Scalar], ts: float,
                   record: Any, context: MappingContext) -> TokenUsage | None:
    model = _model(attrs)
    if tool == "claude-code" and short == "api_request":
        tokens = (_count(attrs, "input_tokens"), _count(attrs, "output_tokens"),
                  _count(attrs, "cache_creation_tokens"), _count(attrs, "cache_read_tokens"))
    elif tool == "gemini-cli" and short == "api_response":
        cached = _count(attrs, "cached_content_token_count")
        uncached = max(0, _count(attrs, "input_token_count") - cached)
        tokens = (
            total([uncached, _count(attrs, "tool_token_count")], "input plus tool tokens"),
            total([_count(attrs, "output_token_count"), _count(attrs, "thoughts_token_count")],
                  "output plus thought tokens"),
            0,
            cached,
        )
    else:
        return None
    request_id = _id(attrs.get("request_id"))
    if request_id is not None:
        # The transcript importer's ids end in ":{requestId}"; the dedupe view relies on it.
        usage_id = f"{tool}:req:{request_id}"
    else:
        stamp = record.time_unix_nano or int(ts * 1e9)
        usage_id = f"{tool}:otlp:" + context.label(f"{session}|{model}|{stamp}|{tokens}")
    return TokenUsage(
        usage_id=usage_id, session_id=session, tool=tool, model=model,
        input_tokens=tokens[0], output_tokens=tokens[1], cache_creation_tokens=tokens[2],
        cache_read_tokens=tokens[3], origin="otlp", ts=ts,
    )
