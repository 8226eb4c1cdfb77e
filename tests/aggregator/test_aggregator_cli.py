"""The worktally-aggregator command, run as a real subprocess over a real data directory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aggregator_harness import WINDOW, EnrolledClient, Server, column_sums, values
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.enrollment import enroll
from worktally.aggregator.ingest import ingest
from worktally.aggregator.provisioning import load_private_key, open_store
from worktally.aggregator.settings import DataDir
from worktally.client.wire.measurement import METRIC_NAMES, SCHEMA_VERSION


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", *args],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    if check:
        assert result.returncode == 0, result.stderr
    return result


def add_reports(data: DataDir, tokens: list[str], period: str) -> list[list[int]]:
    """Enroll one client per token and ingest one sealed report each, in process."""
    store = open_store(data)
    private_key = load_private_key(data)
    aggregator_key = private_key.public_key().public_bytes_raw()
    sent = []
    try:
        for i, token in enumerate(tokens):
            key = Ed25519PrivateKey.generate()
            e = enroll(store, token, key.public_key().public_bytes_raw())
            client = EnrolledClient(e.client_id, e.cohort.name, e.slot, key, aggregator_key,
                                    e.cohort.epsilon, e.cohort.delta, e.cohort.mechanism,
                                    e.cohort.window)
            outcome = ingest(store, private_key, client.sealed(values(i), period),
                             secrets.token_hex(8))
            assert outcome.status == "accepted"
            sent.append(values(i))
    finally:
        store.close()
    return sent


def test_init_cohorts_release_and_every_report_command(tmp_path: Path) -> None:
    root = tmp_path / "agg"
    created = json.loads(run("init", "--data", str(root), "--k", "3", "--min-contributors",
                             "2", "--json").stdout)
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
    assert (cohort["mode"], cohort["window"], cohort["epsilon"], cohort["delta"],
            cohort["mechanism"], cohort["k_min"], cohort["epsilon_per_person_per_year_max"]
            ) == ("local", "quarter", 4.0, 0.0, "discrete_laplace", 3, 16.0)
    assert "enrollment_token" not in cohort, "no cohort-wide token any more"
    text = run("cohort", "add", "ops", "--roster", "12", "--window", "month", "--epsilon",
               "1.3", "--k", "5", "--data", str(root)).stdout
    assert "tokens issue ops" in text and "fallback" in text
    for bad, why in ((["--epsilon", "0"], "ε"), (["--epsilon", "65"], "at most"),
                     (["--roster", "0"], "roster")):
        refused = run("cohort", "add", "bad", "--roster", "4", "--data", str(root), *bad,
                      check=False)
        assert refused.returncode == 1 and why in refused.stderr, refused.stderr
    listed = json.loads(run("cohort", "list", "--data", str(root), "--json").stdout)
    assert [(c["name"], c["mode"], c["roster_size"], c["window"], c["epsilon"], c["k_min"])
            for c in listed["cohorts"]] == [("ops", "local", 12, "month", 1.3, 5),
                                            ("web", "local", 11, "quarter", 4.0, 3)]
    issued = json.loads(run("tokens", "issue", "web", "--count", "11", "--data", str(root),
                            "--json").stdout)["tokens"]
    assert [t["slot"] for t in issued] == list(range(1, 12))
    for token in [*tokens, *(t["token"] for t in issued)]:
        assert re.fullmatch(r"[0-9a-f]{64}", token), token
    beyond = run("tokens", "issue", "web", "--data", str(root), check=False)
    assert beyond.returncode == 1 and "roster of 11" in beyond.stderr

    data = DataDir(root)
    web = add_reports(data, [t["token"] for t in issued[:3]], WINDOW)
    officer = tmp_path / "officer.token"
    officer.write_text(created["officer_token"] + "\n")
    # The officer's actions need the officer's token offline too, and the log names it.
    anonymous = run("hold", "--data", str(root), "--cohort", "web", "--period", WINDOW,
                    "--reason", "checking", check=False)
    assert anonymous.returncode == 1 and "--token-file" in anonymous.stderr
    run("--token-file", str(officer), "hold", "--data", str(root), "--cohort", "web",
        "--period", WINDOW, "--reason", "checking")
    refused = run("release", "--data", str(root), "--cohort", "web", "--period", WINDOW,
                  check=False)
    assert refused.returncode == 1 and "hold" in refused.stderr
    run("--token-file", str(officer), "unhold", "--data", str(root), "--cohort", "web",
        "--period", WINDOW)
    released = json.loads(run("release", "--data", str(root), "--cohort", "web",
                              "--period", WINDOW, "--json").stdout)
    assert released["n"] == 3

    summary = json.loads(run("summary", "--data", str(root), "--json").stdout)
    (row,) = summary["cohorts"]
    assert (row["cohort"], row["period"], row["mode"]) == ("web", WINDOW, "local")
    assert row["metrics"]["ai_active"]["mean"]["raw"] == column_sums(web)[0]
    assert row["metrics"]["ai_tokens_k_per_week"]["mean"]["raw"] == \
        round(column_sums(web)[5] / 3, 4)
    assert "shipped_token_share_pm" in run("summary", "--data", str(root)).stdout

    html_file = tmp_path / "review.html"
    review = json.loads(run("--token-file", str(officer), "review", "--data", str(root),
                            "--json", "--html", str(html_file)).stdout)
    assert review["schema_version"] == SCHEMA_VERSION
    assert {c["name"]: c["roster_size"] for c in review["cohorts"]} == {"ops": 12, "web": 11}
    assert review["releases"][0]["k_min"] == 3
    assert "Audit log" in html_file.read_text()
    actors = {(a["action"], a["actor"]) for a in review["audit_log"]}
    officer_id = hashlib.sha256(created["officer_token"].encode()).hexdigest()[:8]
    assert ("hold", f"officer token {officer_id} via offline CLI") in actors
    assert ("release", "admin (the data dir's owner, no token) via offline CLI") in actors

    out = tmp_path / "dash.html"
    run("dashboard", "--data", str(root), "--out", str(out))
    page = out.read_text()
    assert page.count("<svg") == len(METRIC_NAMES)
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
