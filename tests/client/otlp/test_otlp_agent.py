"""The agent runs the OTLP receiver: an export reaches `worktally me` through real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from agent_support import stop_agent
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from otlp_support import CANARY

from worktally.client import config
from worktally.client.agent.control import ask

CLI = [sys.executable, "-c", "from worktally.client.cli import main; main()"]
TIMEOUT_S = 60


@pytest.fixture
def agent(worktally_home: Path) -> Iterator[dict[str, Any]]:
    yield from _run_agent()


@pytest.fixture
def guarded_agent(worktally_home: Path) -> Iterator[dict[str, Any]]:
    config.set_value("otlp.require_secret", True)
    yield from _run_agent()


def _run_agent() -> Iterator[dict[str, Any]]:
    # Port 0: the receiver takes a free port and the agent's status names it.
    config.set_value("otlp.port", 0)
    proc = subprocess.Popen([*CLI, "agent"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        status = None
        while status is None:
            assert proc.poll() is None, proc.communicate(timeout=10)[1]
            assert time.monotonic() < deadline, "the agent did not answer"
            status = ask({"cmd": "status"}, timeout=1.0)
            time.sleep(0.02)
        yield status
    finally:
        err = stop_agent(proc)
        assert CANARY not in err


def _cli_json(*args: str) -> Any:
    out = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_an_export_to_the_agents_receiver_shows_in_me(agent: dict[str, Any],
                                                       worktally_home: Path) -> None:
    port = agent["otlp_port"]
    assert isinstance(port, int) and port > 0
    now_ns = time.time_ns()
    body = {"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": str(now_ns), "body": {"stringValue": "claude_code.api_request"},
            "attributes": [
                {"key": "session.id", "value": {"stringValue": "agent-otlp-1"}},
                {"key": "model", "value": {"stringValue": "claude-sonnet-4-20250514"}},
                {"key": "input_tokens", "value": {"intValue": "100"}},
                {"key": "output_tokens", "value": {"intValue": "2000"}},
                {"key": "request_id", "value": {"stringValue": "req_agent_1"}},
                {"key": "prompt", "value": {"stringValue": CANARY}},
            ]}]}]}]}
    response = httpx.post(f"http://127.0.0.1:{port}/v1/logs", content=json.dumps(body),
                          headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)
    assert response.status_code == 200

    deadline = time.monotonic() + TIMEOUT_S
    while True:
        usage = _cli_json("me")["ai_usage"]
        if usage["tokens_total"]:
            break
        assert time.monotonic() < deadline, "the export never reached `worktally me`"
        time.sleep(0.2)
    assert usage["tokens"]["no_context"] == 2100
    assert usage["sessions"]["no_context"] == 1
    assert usage["by_tool"]["claude-code"]["cost_usd"] == pytest.approx(
        (100 * 3 + 2000 * 15) / 1e6)
    db_bytes = b"".join(p.read_bytes() for p in worktally_home.glob("worktally.duckdb*"))
    assert CANARY.encode() not in db_bytes


def _api_request_body(request_id: str) -> dict[str, Any]:
    return {"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": str(time.time_ns()),
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": [
                {"key": "session.id", "value": {"stringValue": f"sess-{request_id}"}},
                {"key": "model", "value": {"stringValue": "claude-sonnet-4-20250514"}},
                {"key": "input_tokens", "value": {"intValue": "5000"}},
                {"key": "output_tokens", "value": {"intValue": "7"}},
                {"key": "request_id", "value": {"stringValue": request_id}},
            ]}]}]}]}


def test_a_guarded_agent_wants_the_secret_that_otlp_env_prints(
    guarded_agent: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = guarded_agent["otlp_port"]
    base = f"http://127.0.0.1:{port}"
    refused = httpx.post(f"{base}/v1/logs", content=json.dumps(_api_request_body("req_no")),
                         headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)
    assert refused.status_code == 401

    # otlp.port is 0: the command asks the running agent which port it took.
    out = subprocess.run([*CLI, "otlp", "env"], capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=False)
    assert out.returncode == 0, out.stderr
    exported = dict(line.removeprefix("export ").split("=", 1)
                    for line in out.stdout.splitlines())
    assert exported["OTEL_EXPORTER_OTLP_ENDPOINT"] == base
    for name, value in exported.items():
        monkeypatch.setenv(name, value)
    session = requests.Session()
    session.trust_env = False
    # Endpoint and headers come from the environment only.
    exporter = OTLPLogExporter(session=session)
    provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    provider.get_logger("com.anthropic.claude_code").emit(LogRecord(
        timestamp=time.time_ns(), body="claude_code.api_request",
        attributes={"event.name": "api_request", "session.id": "sess-guarded",
                    "model": "claude-sonnet-4-20250514", "input_tokens": 300,
                    "output_tokens": 40, "request_id": "req_guarded"},
    ))
    provider.shutdown()

    deadline = time.monotonic() + TIMEOUT_S
    while True:
        usage = _cli_json("me")["ai_usage"]
        if usage["tokens_total"]:
            break
        assert time.monotonic() < deadline, "the authorised export never reached `worktally me`"
        time.sleep(0.2)
    # Only the authorised request counts (300 + 40), not the refused one (5000 + 7).
    assert usage["tokens_total"] == 340
