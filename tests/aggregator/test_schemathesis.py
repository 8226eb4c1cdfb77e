"""schemathesis fuzzes the published OpenAPI document against a real server: no 5xx, no drift."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aggregator_harness import Server, make_deployment

from worktally.aggregator.settings import DataDir

ST = Path(sys.executable).parent / "st"
# Opaque sealed bytes cannot be "schema-valid and accepted", and Starlette's 405 lists only the
# method it matched; every other check schemathesis has runs.
EXCLUDED = "positive_data_acceptance,allow_header_conformance"


@pytest.mark.skipif(not ST.exists(), reason="schemathesis CLI is not installed")
def test_fuzzing_the_openapi_finds_no_server_errors_or_contract_drift(
        tmp_path: Path, serve: Callable[[DataDir], Server]) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 10})
    server = serve(dep.data)
    started = time.monotonic()
    for token in (dep.admin_token, dep.officer_token):
        result = subprocess.run(
            [str(ST), "run", f"{server.url}/openapi.json", "--max-examples", "25", "-w", "1",
             "-H", f"Authorization: Bearer {token}", "--checks", "all",
             "--exclude-checks", EXCLUDED, "--no-color"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-4000:]
        assert "passed" in result.stdout
    assert time.monotonic() - started < 60
