"""The worktally-aggregator command, run as a real subprocess over a real data directory."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aggregator_harness import Server
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.enrollment import enroll
from worktally.aggregator.ingest import ingest
from worktally.aggregator.provisioning import load_private_key, open_store
from worktally.aggregator.settings import DataDir
from worktally.client.wire.envelope import ReportPayload, seal
from worktally.client.wire.schema import METRICS, SCHEMA_VERSION


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", *args],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    if check:
        assert result.returncode == 0, result.stderr
    return result


def add_reports(data: DataDir, token: str, count: int, period: str) -> list[tuple[int, ...]]:
    """Enroll `count` clients and ingest one sealed report each, through the real functions."""
    store = open_store(data)
    private_key = load_private_key(data)
    aggregator_key = private_key.public_key().public_bytes_raw()
    sent = []
    try:
        for i in range(count):
            key = Ed25519PrivateKey.generate()
            enrolled = enroll(store, token, key.public_key().public_bytes_raw())
            c = enrolled.cohort
            values = tuple(m.lower + (i * 7 + j) % (m.upper - m.lower + 1)
                           for j, m in enumerate(METRICS))
            payload = ReportPayload(SCHEMA_VERSION, c.name, period, values, c.epsilon, c.delta,
                                    c.mechanism, enrolled.client_id, secrets.token_hex(16))
            outcome = ingest(store, private_key, seal(payload, key, aggregator_key),
                             secrets.token_hex(8))
            assert outcome.status == "accepted"
            sent.append(values)
    finally:
        store.close()
    return sent


def test_init_cohorts_release_and_every_report_command(tmp_path: Path) -> None:
    root = tmp_path / "agg"
    created = json.loads(run("init", "--data", str(root), "--min-contributors", "2",
                             "--json").stdout)
    assert len(base64.b64decode(created["public_key"])) == 32
    assert created["admin_token"] != created["officer_token"]
    # Tokens are pasted on command lines: never anything an option parser could take.
    tokens = [created["admin_token"], created["officer_token"]]
    for name in ("aggregator.x25519", "aggregator.duckdb"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    again = run("init", "--data", str(root), check=False)
    assert again.returncode == 1 and "already" in again.stderr

    cohort = json.loads(run("cohort", "add", "web", "--roster", "11", "--data", str(root),
                            "--json").stdout)
    run("cohort", "add", "ops", "--roster", "12", "--epsilon", "4", "--data", str(root))
    for token in [*tokens, cohort["enrollment_token"]]:
        assert re.fullmatch(r"[0-9a-f]{64}", token), token
    listed = json.loads(run("cohort", "list", "--data", str(root), "--json").stdout)
    assert [(c["name"], c["roster_size"], c["epsilon"]) for c in listed["cohorts"]] == [
        ("ops", 12, 4.0), ("web", 11, cohort["epsilon"])]

    data = DataDir(root)
    web = add_reports(data, cohort["enrollment_token"], 3, "2026-W48")
    run("hold", "--data", str(root), "--cohort", "web", "--period", "2026-W48",
        "--reason", "checking")
    refused = run("release", "--data", str(root), "--cohort", "web", "--period", "2026-W48",
                  check=False)
    assert refused.returncode == 1 and "hold" in refused.stderr
    run("unhold", "--data", str(root), "--cohort", "web", "--period", "2026-W48")
    released = json.loads(run("release", "--data", str(root), "--cohort", "web",
                              "--period", "2026-W48", "--json").stdout)
    assert released["n"] == 3

    summary = json.loads(run("summary", "--data", str(root), "--json").stdout)
    row = summary["cohorts"][0]
    for j, metric in enumerate(METRICS):
        assert row["metrics"][metric.name]["sum"]["estimate"] == sum(v[j] for v in web)
    assert summary["org"][0]["n"] == 3

    html_file = tmp_path / "review.html"
    review = json.loads(run("review", "--data", str(root), "--json", "--html",
                            str(html_file)).stdout)
    assert {c["name"]: c["roster_size"] for c in review["cohorts"]} == {"ops": 12, "web": 11}
    assert review["releases"][0]["k_min"] == 10
    assert "Audit log" in html_file.read_text()

    out = tmp_path / "dash.html"
    run("dashboard", "--data", str(root), "--out", str(out))
    page = out.read_text()
    assert page.count("<svg") == len(METRICS)
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_commands_explain_a_missing_or_busy_data_dir(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    missing = run("summary", "--data", str(tmp_path / "nothing"), check=False)
    assert missing.returncode == 1 and "init" in missing.stderr
    assert "Traceback" not in missing.stderr
    root = tmp_path / "agg"
    run("init", "--data", str(root))
    serve(DataDir(root))
    busy = run("summary", "--data", str(root), check=False)
    assert busy.returncode == 1 and "serve" in busy.stderr
