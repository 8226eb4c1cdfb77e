"""`worktally demo` through the real CLI: both cohorts released with intervals, a dashboard with
charts, a privacy review, and (at full size) the tokenmaxxing cohort standing out.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from worktally.client.wire.schema import METRIC_NAMES, METRICS_BY_NAME

SMALL_TIMEOUT_S = 240
FULL_TIMEOUT_S = 600
DEMO_CMD = (sys.executable, "-m", "worktally.client.cli", "demo", "--json")


def run_demo(workdir: Path, *args: str, timeout: float,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEMO_CMD, "--workdir", str(workdir), *args], capture_output=True,
                          text=True, timeout=timeout, env=env or dict(os.environ), check=False)


def cohort_rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["cohort"]: row for row in result["summary"]["cohorts"]
            if row["period"] == result["period"]}


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that name `text` (to prove nothing was left running)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # the process ended while we looked
        if text in cmdline and "pytest" not in cmdline:
            found.append(cmdline)
    return found


def test_small_demo_releases_both_cohorts_with_intervals(
        tmp_path: Path, worktally_home: Path) -> None:
    per_cohort = 5
    workdir = tmp_path / "demo"
    out = run_demo(workdir, "--developers-per-cohort", str(per_cohort), "--k", "5",
                   "--seed", "11", timeout=SMALL_TIMEOUT_S)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)

    rows = cohort_rows(result)
    assert set(rows) == {"platform", "growth"}
    for row in rows.values():
        # Every developer's report was accepted and counted.
        assert row["n"] == per_cohort
        assert set(row["metrics"]) == set(METRIC_NAMES)
        for name, fig in row["metrics"].items():
            for kind in ("mean", "sum"):
                est = fig[kind]
                assert all(math.isfinite(est[k]) for k in ("estimate", "low", "high")), name
                assert est["low"] <= est["high"], (name, kind, est)
            # Intervals are trimmed to what clipped values can reach.
            spec = METRICS_BY_NAME[name]
            assert spec.lower <= fig["mean"]["low"] <= fig["mean"]["high"] <= spec.upper, name
    assert [r["cohort"] for r in result["summary"]["org"]] == ["(org)"]
    assert result["summary"]["org"][0]["n"] == 2 * per_cohort

    review = result["review"]
    assert review["k_min"] == 5
    assert {c["name"]: c["roster_size"] for c in review["cohorts"]} == {
        "platform": per_cohort, "growth": per_cohort}
    for c in review["cohorts"]:
        assert c["epsilon_per_person_per_period"] > 0
        assert c["delta_per_person_per_period"] >= 0
        assert c["enrolled_clients"] == per_cohort
    assert sorted((r["cohort"], r["n"]) for r in review["releases"]) == [
        ("growth", per_cohort), ("platform", per_cohort)]
    assert {f["name"] for f in review["fields"]} == set(METRIC_NAMES)

    dashboard = Path(result["dashboard"])
    assert dashboard.parent == workdir.resolve()
    html = dashboard.read_text(encoding="utf-8")
    assert html.count("<svg") >= 1
    assert "platform" in html and "growth" in html
    assert result["wall_time_s"] > 0

    # The verdict is what the released intervals say, recomputed here.
    share = {c: rows[c]["metrics"]["shipped_token_share_pm"]["mean"] for c in rows}
    disjoint = (share["growth"]["high"] < share["platform"]["low"]
                or share["growth"]["low"] > share["platform"]["high"])
    assert result["stands_out"] is disjoint
    # Each simulated developer has a real repo with the week's commit.
    repos = list((workdir / "developers").glob("*/*-service/.git"))
    assert len(repos) == 2 * per_cohort
    assert not processes_mentioning(str(workdir))


@pytest.mark.slow
@pytest.mark.timeout(FULL_TIMEOUT_S + 60)
def test_full_size_tokenmaxxing_cohort_stands_out(tmp_path: Path, worktally_home: Path) -> None:
    out = run_demo(tmp_path / "demo", timeout=FULL_TIMEOUT_S)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    rows = cohort_rows(result)
    assert {c: rows[c]["n"] for c in rows} == {"platform": 16, "growth": 16}
    growth = rows["growth"]["metrics"]["shipped_token_share_pm"]["mean"]
    platform = rows["platform"]["metrics"]["shipped_token_share_pm"]["mean"]
    assert growth["high"] < platform["low"], (growth, platform)
    assert result["stands_out"] is True
    verdict = next(v for v in result["verdicts"] if v["metric"] == "shipped_token_share_pm")
    assert verdict["direction"] == "lower"


def test_a_failing_step_is_named_and_the_aggregator_is_stopped(
        tmp_path: Path, worktally_home: Path) -> None:
    # Without git on PATH the developers' machines cannot be prepared.
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin)}
    workdir = tmp_path / "demo"
    out = run_demo(workdir, "--developers-per-cohort", "2", "--k", "2",
                   timeout=SMALL_TIMEOUT_S, env=env)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "demo step 'prepare developer machines' failed" in out.stderr
    # The aggregator had started (its log exists) and is gone now.
    assert (workdir / "aggregator-serve.log").exists()
    assert not processes_mentioning(str(workdir))
