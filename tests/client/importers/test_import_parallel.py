"""Imports parsed by child processes store exactly what a one-process import stores."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from importer_support import FIXTURES, SAMPLES, materialise, open_db, run_import, snapshot

from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers import runner, workers
from worktally.client.repos.registry import RepoRegistry


@pytest.fixture
def parallel_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make every import of two or more files go through real children, one file per job;
    returns the worker counts parse_parallel was called with."""
    calls: list[int] = []
    real: Callable[..., Any] = workers.parse_parallel

    def counting(ctx: Any, tool: str, groups: Any, count: int) -> Any:
        calls.append(count)
        return real(ctx, tool, groups, count)

    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(workers, "JOB_BYTES", 1)
    monkeypatch.setattr(workers, "worker_count", lambda: 2)
    monkeypatch.setattr(workers, "parse_parallel", counting)
    return calls


def _tree(tmp_path: Path, git_repo: Any) -> Path:
    """Fixture transcripts bound to a registered repo (so edits are stored), plus the samples."""
    repo = git_repo()
    root = materialise(FIXTURES / "claude", tmp_path / "claude", repo.root)
    RepoRegistry(default_keyer()).add(repo.root)
    samples = SAMPLES / "claude-code"
    if samples.is_dir():
        shutil.copytree(samples, root / "projects" / "samples")
    return root


def _one_process(root: Path, db_dir: Path,
                 tool: str = "claude-code") -> tuple[dict[str, object], dict[str, int]]:
    """What a single-process import of `root` stores (and its counts), in its own DB."""
    db_dir.mkdir()
    con = open_db(db_dir)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(runner, "PARALLEL_MIN_BYTES", 2**62)
            summary = run_import(con, tool, root)
        return snapshot(con), summary.counts()
    finally:
        con.close()


def test_children_store_what_one_process_stores(tmp_path: Path, git_repo: Any,
                                                 parallel_calls: list[int]) -> None:
    root = _tree(tmp_path, git_repo)
    want, want_counts = _one_process(root, tmp_path / "serial")
    assert want["edits"] and want["usage"] and want["sessions"]
    con = open_db(tmp_path)
    summary = run_import(con, "claude-code", root)
    assert parallel_calls == [2]
    assert snapshot(con) == want
    assert summary.counts() == want_counts


def test_parallel_import_resumes_from_cursors(tmp_path: Path, git_repo: Any,
                                              parallel_calls: list[int]) -> None:
    root = _tree(tmp_path, git_repo)
    files = sorted(root.rglob("*.jsonl"))
    # The first run sees each file cut after half of its lines, the second run the rest.
    full = {path: path.read_bytes() for path in files}
    for path, data in full.items():
        lines = data.splitlines(keepends=True)
        path.write_bytes(b"".join(lines[: len(lines) // 2]))
    con = open_db(tmp_path)
    run_import(con, "claude-code", root)
    for path, data in full.items():
        path.write_bytes(data)
    again = run_import(con, "claude-code", root)
    assert parallel_calls == [2, 2]
    assert again.usages  # the second halves held usage the first run had not seen
    resumed = snapshot(con)
    con.close()
    assert resumed == _one_process(root, tmp_path / "whole")[0]


def test_codex_rollouts_in_children_equal_one_process(tmp_path: Path,
                                                      parallel_calls: list[int]) -> None:
    root = tmp_path / "codex"
    shutil.copytree(FIXTURES / "codex", root)
    want, want_counts = _one_process(root, tmp_path / "serial", "codex")
    assert want["usage"]
    con = open_db(tmp_path)
    summary = run_import(con, "codex", root)
    assert parallel_calls == [2]
    assert snapshot(con) == want
    assert summary.counts() == want_counts


def test_a_child_that_dies_leaves_its_files_to_the_parent(tmp_path: Path, git_repo: Any,
                                                          parallel_calls: list[int],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    root = _tree(tmp_path, git_repo)
    want, _ = _one_process(root, tmp_path / "serial")
    # A module without a __main__ makes `python -m` exit at once: every child "crashes".
    monkeypatch.setattr(workers, "CHILD_MODULE", "worktally.client.importers")
    con = open_db(tmp_path)
    run_import(con, "claude-code", root)
    assert parallel_calls == [2]
    assert snapshot(con) == want
    assert "parsing its files here instead" in caplog.text


def test_children_that_cannot_start_leave_everything_to_the_parent(
    tmp_path: Path, git_repo: Any, parallel_calls: list[int],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    root = _tree(tmp_path, git_repo)
    want, _ = _one_process(root, tmp_path / "serial")
    monkeypatch.setattr(workers, "PYTHON", str(tmp_path / "no-such-python"))
    con = open_db(tmp_path)
    run_import(con, "claude-code", root)
    assert parallel_calls == [2]
    assert snapshot(con) == want
    assert "could not start import workers" in caplog.text
