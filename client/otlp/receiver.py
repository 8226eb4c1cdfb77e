"""A loopback-only OTLP/HTTP receiver for AI tools' telemetry; it writes records to the spool.

It serves `POST /v1/metrics` and `POST /v1/logs` in protobuf or JSON, optionally gzipped,
and hardens the port the way a local API must be: 127.0.0.1 only, a Host-header check
against DNS rebinding, no browser origins, optionally a per-install secret against other
local users, and limits on both the body and what it inflates to. Every number is checked
against `numbers`' bounds: a request with one out of bounds is refused with 400 and nothing
of it is spooled. Decoding and mapping run in the request thread; nothing here touches the
database.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.spool import Spool
from worktally.client.config import OtlpConfig
from worktally.client.errors import SpoolError, WorktallyError
from worktally.client.otlp import secret as otlp_secret
from worktally.client.otlp.mapping import Mapped, MappingContext, map_logs, map_metrics
from worktally.client.otlp.numbers import OtlpValueError
from worktally.client.repos.registry import RepoRegistry

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT_S = 10
# OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping expects base64.
_HEX_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id"})
# How much of the protobuf parser's complaint the 400 answer quotes (it may quote the body).
_DETAIL_CHARS = 200


class OtlpRequestError(WorktallyError):
    """A request the receiver refuses; carries the HTTP status to answer with.

    `detail` goes into the answer only, never into the log: it may quote the request.
    """

    def __init__(self, status: HTTPStatus, message: str, detail: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.headers = headers or {}

    def answer(self) -> bytes:
        text = f"{self}: {self.detail}" if self.detail else str(self)
        return text.encode("utf-8", "replace")


@dataclass(frozen=True)
class Signal:
    request_type: type[Message]
    response_type: type[Message]
    mapper: Callable[[Any, MappingContext], Mapped]


SIGNALS = {
    "/v1/metrics": Signal(ExportMetricsServiceRequest, ExportMetricsServiceResponse, map_metrics),
    "/v1/logs": Signal(ExportLogsServiceRequest, ExportLogsServiceResponse, map_logs),
}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 4_000_000
    max_decompressed_bytes: int = 32_000_000


def inflate(body: bytes, limit: int) -> bytes:
    """Gunzip at most `limit` bytes; a body that inflates further is refused (gzip bomb)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise OtlpRequestError(HTTPStatus.BAD_REQUEST, "body is not valid gzip") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise OtlpRequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               "decompressed body is too large")
    if not inflater.eof:
        raise OtlpRequestError(HTTPStatus.BAD_REQUEST, "gzip body is truncated")
    return out


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _HEX_ID_FIELDS and isinstance(value, str):
                try:
                    value = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError as exc:
                    raise OtlpRequestError(HTTPStatus.BAD_REQUEST,
                                           f"{key} is not hex") from exc
            else:
                value = _hex_ids_to_base64(value)
            out[key] = value
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def _no_bare_constants(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have; OTLP/JSON writes
    # non-finite doubles as the strings "NaN" and "Infinity" (refused later as counts).
    raise ValueError(f"{name} is not JSON")


def decode(signal: Signal, content_type: str, body: bytes) -> Message:
    """Parse an export request body; OtlpRequestError(400) when it is not one."""
    message = signal.request_type()
    try:
        if content_type == PROTOBUF:
            message.ParseFromString(body)
        else:
            doc = json.loads(body, parse_constant=_no_bare_constants)
            if not isinstance(doc, dict):
                raise ValueError("an OTLP/JSON body is an object")
            json_format.ParseDict(_hex_ids_to_base64(doc), message, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        # ParseError names the field and says why (e.g. an int64 out of range).
        raise OtlpRequestError(HTTPStatus.BAD_REQUEST, "body is not an OTLP export",
                               detail=str(exc)[:_DETAIL_CHARS]) from exc
    return message


def allowed_host(host: str | None, port: int) -> bool:
    """Only names that resolve to this machine by definition, with our port or none."""
    if not host:
        return False
    return host.lower() in {LOOPBACK, "localhost", f"{LOOPBACK}:{port}", f"localhost:{port}"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        try:
            status, content_type, payload = self.server.receiver.handle(
                self.path, dict(self.headers.items()), self._read_body
            )
        except OtlpRequestError as exc:
            log.info("OTLP request to %s refused with %d: %s", self._signal_path(), exc.status,
                     exc)
            self._answer(exc.status, "text/plain", exc.answer(), close=True, extra=exc.headers)
            return
        except Exception:
            # A bug costs this one request a 500, not the exporter an unanswered connection.
            log.exception("OTLP request to %s failed", self._signal_path())
            self._answer(HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain", b"internal error",
                         close=True)
            return
        self._answer(status, content_type, payload)

    def do_GET(self) -> None:
        self._answer(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"use POST", close=True)

    do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def _signal_path(self) -> str:
        # Only a known path is logged: the rest of a request line is the sender's text.
        path = self.path.split("?", 1)[0]
        return path if path in SIGNALS else "another path"

    def _read_body(self, length: int) -> bytes:
        return self.rfile.read(length)

    def _answer(self, status: HTTPStatus, content_type: str, payload: bytes,
                close: bool = False, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if close:
            # The body may be unread (413, 415): the connection cannot be reused.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("otlp %s", format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: OtlpReceiver


class OtlpReceiver:
    """The agent's receiver: `start()` binds 127.0.0.1 and serves in a background thread.

    With a `secret`, every request must carry it as `Authorization: Bearer <secret>`.
    """

    def __init__(self, port: int, spool: Spool, keyer: LineKeyer, registry: RepoRegistry,
                 limits: Limits | None = None, secret: str | None = None) -> None:
        self.port = port
        self.spool = spool
        self.keyer = keyer
        self.registry = registry
        self.limits = limits or Limits()
        self.secret = secret
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, cfg: OtlpConfig, spool: Spool, keyer: LineKeyer,
                    registry: RepoRegistry) -> OtlpReceiver:
        """The receiver the `[otlp]` settings describe; makes the secret if it is required."""
        limits = Limits(max_body_bytes=cfg.max_body_bytes,
                        max_decompressed_bytes=cfg.max_decompressed_bytes)
        secret = otlp_secret.load_or_create() if cfg.require_secret else None
        return cls(cfg.port, spool, keyer, registry, limits, secret)

    def start(self) -> int:
        """Bind and serve; returns the actual port (useful with port 0)."""
        try:
            server = _Server((LOOPBACK, self.port), _Handler)
        except OSError as exc:
            raise WorktallyError(
                f"the OTLP receiver cannot listen on {LOOPBACK}:{self.port} ({exc.strerror}); "
                "set otlp.port to a free port or otlp.enabled = false"
            ) from exc
        server.receiver = self
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="otlp-receiver", daemon=True)
        self._thread.start()
        log.info("OTLP receiver listening on %s:%d", LOOPBACK, self.port)
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _repo_for_cwd(self, cwd: str) -> str | None:
        repo = self.registry.find_containing(Path(cwd))
        return repo.repo_id if repo is not None else None

    def handle(self, path: str, headers: dict[str, str],
               read_body: Callable[[int], bytes]) -> tuple[HTTPStatus, str, bytes]:
        """Check, decode, map and spool one request; OtlpRequestError says why not."""
        lowered = {k.lower(): v for k, v in headers.items()}
        signal = SIGNALS.get(path.split("?", 1)[0])
        if signal is None:
            raise OtlpRequestError(HTTPStatus.NOT_FOUND, "use /v1/metrics or /v1/logs")
        if not allowed_host(lowered.get("host"), self.port):
            raise OtlpRequestError(HTTPStatus.FORBIDDEN, "unexpected Host header")
        if "origin" in lowered:
            # Exporters never send Origin; a browser page always does.
            raise OtlpRequestError(HTTPStatus.FORBIDDEN, "browser requests are not accepted")
        if self.secret is not None and not otlp_secret.authorized(lowered.get("authorization"),
                                                                  self.secret):
            raise OtlpRequestError(
                HTTPStatus.UNAUTHORIZED,
                "send Authorization: Bearer <secret>; `worktally otlp env` prints the "
                f"{otlp_secret.HEADERS_ENV} line that does it",
                headers={"WWW-Authenticate": 'Bearer realm="worktally-otlp"'},
            )
        content_type = lowered.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in (PROTOBUF, JSON):
            raise OtlpRequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                                   "send application/x-protobuf or application/json")
        encoding = lowered.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            raise OtlpRequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send gzip or no encoding")
        try:
            length = int(lowered.get("content-length", ""))
        except ValueError as exc:
            raise OtlpRequestError(HTTPStatus.LENGTH_REQUIRED,
                                   "Content-Length is required") from exc
        if length < 0:
            raise OtlpRequestError(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        if length > self.limits.max_body_bytes:
            raise OtlpRequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body is too large")
        body = read_body(length)
        if encoding == "gzip":
            body = inflate(body, self.limits.max_decompressed_bytes)
        request = decode(signal, content_type, body)
        context = MappingContext(repo_for_cwd=self._repo_for_cwd, label=self.keyer.label,
                                 now=time.time())
        try:
            mapped = signal.mapper(request, context)
        except OtlpValueError as exc:
            # All or nothing: the exporter must not retry, and a partial export would
            # count some of a window's tokens and not others.
            raise OtlpRequestError(HTTPStatus.BAD_REQUEST, str(exc)) from exc
        try:
            self.spool.write(mapped.records())
        except SpoolError as exc:
            # 503 makes the exporter retry later instead of dropping the data.
            log.warning("OTLP data could not be spooled: %s", exc)
            raise OtlpRequestError(HTTPStatus.SERVICE_UNAVAILABLE, "spool unavailable") from exc
        response = signal.response_type()
        if content_type == PROTOBUF:
            return HTTPStatus.OK, PROTOBUF, response.SerializeToString()
        return HTTPStatus.OK, JSON, json_format.MessageToJson(response).encode()

