"""A Claude Code session writes files, the developer commits them, `worktally sync` credits it.

Real programs throughout: git, the `worktally` CLI as subprocesses, the DuckDB file after.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from worktally.client.attribution.outcomes import session_outcomes
from worktally.client.config import Config
from worktally.client.store import db

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "e2e"
CLI_TIMEOUT_S = 120
FEATURE = (
    "def compute_feature_total(items):\n"
    "    total = sum(item.price for item in items)\n"
    "    return round(total, 2)\n"
)
README = "# Demo project\nRun compute_feature_total to get the invoice total.\n"


def worktally(*args: str) -> dict | list:
    out = subprocess.run(
        [sys.executable, "-c", "from worktally.client.cli import main; main()", *args, "--json"],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False, env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def lay_out_transcripts(dest: Path, repo_root: Path, outside: Path) -> None:
    """The fixture transcripts, stamped a few minutes ago and pointing at this repo."""
    start = dt.datetime.now(tz=dt.UTC) - dt.timedelta(minutes=10)
    for source in FIXTURE.rglob("*.jsonl"):
        text = source.read_text(encoding="utf-8")
        text = text.replace("__REPO__", str(repo_root)).replace("__OUTSIDE__", str(outside))
        for i in range(5):
            stamp = (start + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            text = text.replace(f"__TS{i}__", stamp)
        target = dest / source.relative_to(FIXTURE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _scenario(tmp_path: Path, git_repo, monkeypatch: pytest.MonkeyPatch,
              import_first: bool) -> None:
    repo = git_repo()
    outside = tmp_path / "scratch"
    outside.mkdir()
    claude_home = tmp_path / "claude-home"
    lay_out_transcripts(claude_home, repo.root, outside)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "no-codex"))
    # What the agent wrote is on disk; the developer commits it (README's title is theirs).
    sha = repo.commit("feature", files={"src/feature.py": FEATURE, "README.md": README})

    worktally("repos", "add", str(repo.root))
    if import_first:
        imported = worktally("import", "claude-code")
        assert isinstance(imported, dict) and imported["edits"] == 2
    synced = worktally("sync")
    assert isinstance(synced, dict)

    rows = worktally("commits")
    assert isinstance(rows, list)
    commit = next(r for r in rows if r["sha"] == sha)
    # 3 lines of feature.py and README's second line came from the agent.
    assert commit["lines_added"] == 5
    assert commit["ai_lines"] == 4
    assert commit["ai_by_tool"] == {"claude-code": 4}
    # README's title was written before worktally watched the repo: unknown, not human.
    # (This assertion read human_lines == 1 while an unobserved line counted as human.)
    assert (commit["human_lines"], commit["unknown_lines"]) == (0, 1)

    con = db.connect()
    try:
        outcomes = {o.session_id: o.outcome for o in session_outcomes(
            con, Config(), dt.datetime.now(tz=dt.UTC))}
    finally:
        con.close()
    assert outcomes["e2e-in-repo"] == "shipped"
    assert outcomes["e2e-outside"] == "no_context"


def test_import_then_sync_credits_claude_code(
    tmp_path: Path, git_repo, worktally_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scenario(tmp_path, git_repo, monkeypatch, import_first=True)


def test_sync_alone_credits_claude_code(
    tmp_path: Path, git_repo, worktally_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scenario(tmp_path, git_repo, monkeypatch, import_first=False)
