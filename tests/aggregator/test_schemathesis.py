"""schemathesis fuzzes the published OpenAPI document against a real server: no 5xx, no drift.

Both roles: a leader (local-mode routes and the DAP upload and collection resources) and a
helper (the DAP aggregation resources and its operators' endpoints)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aggregator_harness import Server, make_deployment

from worktally.aggregator.provisioning import init_data_dir
from worktally.aggregator.settings import DataDir, ReleasePolicy

ST = Path(sys.executable).parent / "st"
HERE = Path(__file__).resolve().parent
# Opaque sealed bytes cannot be "schema-valid and accepted", and Starlette's 405 lists only the
# method it matched; every other check schemathesis has runs.
EXCLUDED = "positive_data_acceptance,allow_header_conformance"


def _fuzz(url: str, tokens: list[str], cwd: Path) -> None:
    # DAP's binary media types are sent as opaque bytes (st_hooks.py).
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "st_hooks",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    for token in tokens:
        result = subprocess.run(
            [str(ST), "run", f"{url}/openapi.json", "--max-examples", "25", "-w", "1",
             "-H", f"Authorization: Bearer {token}", "--checks", "all",
             "--exclude-checks", EXCLUDED, "--no-color"],
            capture_output=True, text=True, timeout=60, cwd=cwd, env=env)
        assert result.returncode == 0, result.stdout[-4000:]
        assert "passed" in result.stdout


@pytest.mark.skipif(not ST.exists(), reason="schemathesis CLI is not installed")
def test_fuzzing_the_openapi_finds_no_server_errors_or_contract_drift(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    started = time.monotonic()
    _fuzz(server.url, [dep.admin_token, dep.officer_token], tmp_path)
    assert time.monotonic() - started < 60


@pytest.mark.skipif(not ST.exists(), reason="schemathesis CLI is not installed")
def test_fuzzing_a_helper_finds_no_server_errors_or_contract_drift(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    data = DataDir(tmp_path / "helper")
    dep = init_data_dir(data, ReleasePolicy(), role="helper")
    server = serve(data)
    started = time.monotonic()
    _fuzz(server.url, [dep.admin_token, dep.officer_token], tmp_path)
    assert time.monotonic() - started < 60
