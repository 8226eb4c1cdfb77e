"""The demo's scenario is deterministic, has the contrast the report needs, and its transcripts
are read by the real Claude Code importer exactly as planned.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from worktally.client.demo.scenario import (
    SHIPPING_COHORT,
    TOKENMAXXING_COHORT,
    Canaries,
    build_team,
)
from worktally.client.demo.transcripts import apply_writes, write_sessions
from worktally.client.demo.verdict import judge
from worktally.client.wire.display import Figure

IMPORT_TIMEOUT_S = 120


def test_same_seed_same_team_and_another_seed_differs() -> None:
    assert build_team(4, seed=1) == build_team(4, seed=1)
    assert build_team(4, seed=1) != build_team(4, seed=2)
    team = build_team(4, seed=1)
    assert [p.cohort for p in team].count(SHIPPING_COHORT) == 4
    assert len({p.repo_dir for p in team}) == len({p.email for p in team}) == 8


def test_tokenmaxxing_cohort_ships_a_much_smaller_share_of_its_tokens() -> None:
    team = build_team(16, seed=7)
    shares: dict[str, list[float]] = {SHIPPING_COHORT: [], TOKENMAXXING_COHORT: []}
    for plan in team:
        share = 1000 * plan.shipped_tokens / plan.tokens
        shares[plan.cohort].append(share)
        if plan.cohort == TOKENMAXXING_COHORT:
            assert share < 50, (plan.name, share)
            assert len([s for s in plan.sessions if not s.in_repo]) >= 14
        else:
            assert share > 500, (plan.name, share)
    mean = {c: sum(v) / len(v) for c, v in shares.items()}
    # The report's budget is sized for a contrast of at least 600 per mille between teams.
    assert mean[SHIPPING_COHORT] - mean[TOKENMAXXING_COHORT] >= 600, mean


def test_canaries_are_planted_in_names_prompts_and_code() -> None:
    canaries = Canaries.from_token("zzcanary")
    assert len(set(canaries.all())) == 5
    plan = build_team(1, seed=3, canaries=canaries)[0]
    assert canaries.repo in plan.repo_dir
    assert canaries.file in plan.editor.relpath
    assert canaries.code in plan.editor.typed
    assert canaries.ai_code in plan.editor.ai_block
    assert all(canaries.prompt in s.prompt for s in plan.sessions)


def test_written_transcripts_import_with_the_planned_tokens(
        tmp_path: Path, worktally_home: Path) -> None:
    plan = build_team(1, seed=5)[0]
    repo, outside, claude = tmp_path / "repo", tmp_path / "notes", tmp_path / "claude"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "base.py").write_text(
        'def base_entry(config):\n    return config.get("base_entry_value")\n')
    write_sessions(claude, plan.sessions, repo, outside,
                   dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
    out = subprocess.run(
        [sys.executable, "-m", "worktally.client.cli", "import", "claude-code",
         str(claude / "projects"), "--json"],
        capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S, check=False,
        env={**os.environ, "WORKTALLY_HOME": str(worktally_home)})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["totals"]["total_tokens"] == plan.tokens
    assert result["sessions"] == len(plan.sessions)
    assert result["malformed_lines"] == 0
    assert result["edits"] >= sum(len(s.writes) for s in plan.sessions) > 0
    # What the agent "wrote" lands on disk, the Edit appended after the existing function.
    apply_writes(plan.sessions, repo)
    base = (repo / "src" / "base.py").read_text()
    assert base.startswith("def base_entry(config):")
    assert base.count("def ") == 2


def test_verdict_needs_disjoint_intervals() -> None:
    def mean(estimate: float, low: float, high: float, raw: float | None = None
             ) -> dict[str, object]:
        return {"mean": Figure.of(estimate, estimate if raw is None else raw, low, high,
                                  (high - low) / 2, True, 40).to_json()}

    def summary(low: float, high: float) -> dict[str, object]:
        return {"cohorts": [{"cohort": TOKENMAXXING_COHORT, "period": "2026-W48",
                             "metrics": {"m": mean(0, low, high, raw=-12)}},
                            {"cohort": SHIPPING_COHORT, "period": "2026-W48",
                             "metrics": {"m": mean(800, 600, 1000)}}]}

    apart = judge(summary(0, 200), "2026-W48", TOKENMAXXING_COHORT, SHIPPING_COHORT, "m")
    assert apart.stands_out and apart.direction == "lower"
    # The verdict shows the figures as every table does: the clamped estimate marked.
    assert "0* [0, 200] (±100) vs " in apart.sentence()
    overlapping = judge(summary(0, 650), "2026-W48", TOKENMAXXING_COHORT, SHIPPING_COHORT,
                        "m")
    assert not overlapping.stands_out
    assert "does NOT stand out" in overlapping.sentence()
