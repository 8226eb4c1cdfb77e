"""The per-install OTLP secret: made once and private, checked in constant time, 401 without
it, and the lines `worktally otlp env` prints are all a real exporter needs."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from otlp_support import Running, start_receiver

from worktally.client import config
from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.capture.spool import Spool
from worktally.client.cli import cli
from worktally.client.errors import WorktallyError
from worktally.client.otlp import secret as otlp_secret
from worktally.client.otlp.receiver import OtlpReceiver
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db
from worktally.client.store.drain import drain

TIMEOUT_S = 10
SUBPROCESS_TIMEOUT_S = 60
JSON_TYPE = {"Content-Type": "application/json"}
# A valid, empty export: enough to see whether a request gets past the checks.
EMPTY = b"{}"

# Runs in a shell that sourced the printed lines: the SDK's exporter gets its endpoint and
# headers from the environment alone, as an AI tool's would.
EXPORT_SCRIPT = """
import sys
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

reader = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
provider = MeterProvider(metric_readers=[reader],
                         resource=Resource.create({"service.name": "claude-code"}))
provider.get_meter("m").create_counter("claude_code.token.usage").add(
    int(sys.argv[1]), {"session.id": sys.argv[2], "model": "claude-sonnet-4", "type": "output"})
print(OTLPMetricExporter().export(reader.get_metrics_data(), timeout_millis=10_000).name)
"""


def _secret() -> str:
    return otlp_secret.load_or_create()


@pytest.fixture
def guarded(worktally_home: Path) -> Iterator[Running]:
    with start_receiver(worktally_home, secret=_secret()) as r:
        yield r


def test_the_secret_is_made_once_private_and_well_formed(worktally_home: Path) -> None:
    first = _secret()
    path = worktally_home / "otlp.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.startswith("wtotlp_") and len(first) == len("wtotlp_") + 64
    int(first.removeprefix("wtotlp_"), 16)
    assert _secret() == first
    assert path.read_text().strip() == first


def test_racing_creators_agree_on_one_secret(worktally_home: Path) -> None:
    worktally_home.mkdir(parents=True, exist_ok=True)
    results: list[str] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait(timeout=TIMEOUT_S)
        results.append(_secret())

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)
    assert len(results) == 8 and len(set(results)) == 1
    assert sorted(p.name for p in worktally_home.iterdir()) == ["otlp.secret"]


def test_a_damaged_secret_file_says_what_to_do(worktally_home: Path) -> None:
    worktally_home.mkdir(parents=True)
    (worktally_home / "otlp.secret").write_text("hunter2\n")
    with pytest.raises(WorktallyError, match="delete it, then run `worktally otlp env`"):
        _secret()


def test_a_group_readable_secret_file_is_made_private(worktally_home: Path) -> None:
    _secret()
    path = worktally_home / "otlp.secret"
    path.chmod(0o644)
    _secret()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False), ("", False), ("Bearer", False), ("Bearer ", False),
        ("Basic {s}", False), ("Bearer {s}x", False), ("Bearer {short}", False),
        ("Bearer wtotlp_" + "0" * 64, False), ("{s}", False),
        ("Bearer {s}", True), ("bearer {s}", True), ("Bearer  {s} ", True),
        # An SDK that forgot to URL-decode OTEL_EXPORTER_OTLP_HEADERS.
        ("Bearer%20{s}", True),
    ],
)
def test_authorized(worktally_home: Path, header: str | None, expected: bool) -> None:
    secret = _secret()
    value = header.format(s=secret, short=secret[:-1]) if header is not None else None
    assert otlp_secret.authorized(value, secret) is expected


def test_the_secret_is_compared_in_constant_time(guarded: Running,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check, right or wrong, goes through hmac.compare_digest over equal-length
    digests, so neither a guess's right prefix nor its length changes the time taken."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(otlp_secret.hmac, "compare_digest", spy)
    secret = _secret()
    for token, status in ((secret[:-1] + "x", 401), ("x", 401), (secret + "0" * 50, 401),
                          (secret, 200)):
        response = httpx.post(f"{guarded.base}/v1/logs", content=EMPTY, timeout=TIMEOUT_S,
                              headers={**JSON_TYPE, "Authorization": f"Bearer {token}"})
        assert response.status_code == status
    assert len(calls) == 4
    assert all(len(a) == len(b) == 32 for a, b in calls)
    assert calls[-1][1] == hashlib.sha256(secret.encode()).digest()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic d3Q6b3RscA=="}],
    ids=["none", "wrong", "basic"],
)
def test_without_the_secret_it_is_401_and_nothing_is_spooled(guarded: Running,
                                                             headers: dict[str, str]) -> None:
    body = (b'{"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", '
            b'"value": {"stringValue": "claude-code"}}]}, "scopeLogs": [{"logRecords": [{'
            b'"body": {"stringValue": "claude_code.api_request"}, "attributes": ['
            b'{"key": "input_tokens", "value": {"intValue": "5"}}]}]}]}]}')
    response = httpx.post(f"{guarded.base}/v1/logs", content=body, timeout=TIMEOUT_S,
                          headers={**JSON_TYPE, **headers})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="worktally-otlp"'
    assert "worktally otlp env" in response.text
    assert guarded.spool.pending() == []
    ok = httpx.post(f"{guarded.base}/v1/logs", content=body, timeout=TIMEOUT_S,
                    headers={**JSON_TYPE, "Authorization": f"Bearer {_secret()}"})
    assert ok.status_code == 200
    assert len(guarded.spool.pending()) == 1


def test_the_host_check_still_applies_with_the_secret(guarded: Running) -> None:
    response = httpx.post(f"{guarded.base}/v1/logs", content=EMPTY, timeout=TIMEOUT_S,
                          headers={**JSON_TYPE, "Host": "evil.example",
                                   "Authorization": f"Bearer {_secret()}"})
    assert response.status_code == 403


def test_without_require_secret_no_header_is_needed(worktally_home: Path) -> None:
    assert config.load().otlp.require_secret is False
    keyer = LineKeyer(load_or_create_secret())
    receiver = OtlpReceiver.from_config(config.load().otlp, Spool(), keyer, RepoRegistry(keyer))
    assert receiver.secret is None
    assert not (worktally_home / "otlp.secret").exists()


def _export_from_profile(profile: Path, value: int, session: str) -> str:
    """Source `profile` in sh, then run the SDK exporter configured by nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    # Never route loopback traffic through a proxy from the environment.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    out = subprocess.run(
        ["sh", "-c", '. "$1" && exec "$2" -c "$3" "$4" "$5"', "sh", str(profile),
         sys.executable, EXPORT_SCRIPT, str(value), session],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, env=env, check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_printed_env_configures_a_real_exporter(worktally_home: Path,
                                                    tmp_path: Path) -> None:
    config.set_value("otlp.require_secret", True)
    config.set_value("otlp.port", 0)
    keyer = LineKeyer(load_or_create_secret())
    spool = Spool()
    receiver = OtlpReceiver.from_config(config.load().otlp, spool, keyer, RepoRegistry(keyer))
    port = receiver.start()
    try:
        config.set_value("otlp.port", port)
        result = CliRunner().invoke(cli, ["otlp", "env"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        secret = (worktally_home / "otlp.secret").read_text().strip()
        assert lines == [
            f"export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{port}",
            "export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
            f"export OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{secret}",
        ]
        assert receiver.secret == secret
        # Printed again, the same: the secret is made once.
        again = CliRunner().invoke(cli, ["otlp", "env"], catch_exceptions=False)
        assert again.stdout == result.stdout

        without = tmp_path / "without-secret.sh"
        without.write_text("\n".join(lines[:2]) + "\n")
        assert _export_from_profile(without, 11, "sess-nosecret") == "FAILURE"
        assert spool.pending() == []

        profile = tmp_path / "profile.sh"
        profile.write_text(result.stdout)
        assert _export_from_profile(profile, 4321, "sess-env") == "SUCCESS"
        assert len(spool.pending()) == 1
    finally:
        receiver.stop()
    con = db.connect(worktally_home / "worktally.duckdb")
    drain(con, spool)
    assert con.execute(
        "SELECT session_id, output_tokens FROM token_usage"
    ).fetchall() == [("sess-env", 4321)]


def test_env_and_secret_commands_agree(worktally_home: Path) -> None:
    runner = CliRunner()
    env = runner.invoke(cli, ["otlp", "env", "--json"], catch_exceptions=False)
    assert env.exit_code == 0
    raw = runner.invoke(cli, ["otlp", "secret"], catch_exceptions=False)
    assert raw.exit_code == 0
    secret = raw.stdout.strip()
    assert secret == _secret()
    doc = json.loads(env.stdout)
    assert doc["headers"] == f"Authorization=Bearer%20{secret}"
    assert doc["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4319"
    assert doc["require_secret"] is False
    assert "otlp.require_secret is false" in raw.stderr


def test_env_with_port_0_and_no_agent_says_what_to_do(worktally_home: Path) -> None:
    config.set_value("otlp.port", 0)
    result = CliRunner().invoke(cli, ["otlp", "env"])
    assert result.exit_code == 1
    assert "otlp.port is 0" in result.stderr
    assert "worktally config set otlp.port 4319" in result.stderr
