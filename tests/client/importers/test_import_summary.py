"""A run's summary is the same whether it stayed in memory or spilled to the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from importer_support import FIXTURES, SAMPLES, materialise, open_db, run_import

from worktally.client.importers import runner


def _tree(tmp_path: Path, git_repo) -> Path:
    root = materialise(FIXTURES / "claude", tmp_path / "claude", git_repo().root)
    if (SAMPLES / "claude-code").is_dir():
        shutil.copytree(SAMPLES / "claude-code", root / "projects" / "samples")
    return root


def test_spilled_summary_equals_the_one_in_memory(tmp_path: Path, git_repo,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path, git_repo)
    (tmp_path / "a").mkdir()
    held = run_import(open_db(tmp_path / "a"), "claude-code", root)
    monkeypatch.setattr(runner, "SUMMARY_ROWS", 1)
    monkeypatch.setattr(runner, "SPILL_CHUNK", 3)
    (tmp_path / "b").mkdir()
    spilled = run_import(open_db(tmp_path / "b"), "claude-code", root)
    assert held.counts()["token_records"] > 3 and held.counts()["edits"] > 0
    assert spilled.counts() == held.counts()
    assert spilled.model_totals() == held.model_totals()
    with pytest.raises(runner.SummaryTooLarge):
        _ = spilled.usages
