"""Importing a transcript takes memory bounded by a slice of it, not by its size.

Two files, one three times the other, each imported in a fresh process with small slices and
a DuckDB budget both fill: the larger costs a few MB more, not the half of its extra size
that holding the file, its records or its rows would take. bench/bench_memory.py does the
same at 1 GB, and for a file growing under a live import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from importer_support import FIXTURES

SOURCE = FIXTURES / "claude" / "projects" / "demo-repo" / "s1.jsonl"
SMALL_MB, LARGE_MB = 32, 96
# What holding half of the extra 64 MB would cost; the streaming import stays far below it.
BOUND_MB = 24

IMPORT = """
import sys
from pathlib import Path
from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers import import_tool, reading, runner
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db

reading.BYTES_PER_SLICE = runner.BYTES_PER_SLICE = 2 * 1024 * 1024
keyer = default_keyer()
con = db.connect(memory_limit="32MB")  # filled by both files: only the rest may differ
summary = import_tool(con, keyer, RepoRegistry(keyer), "claude-code", [Path(sys.argv[1])])
assert summary.counts()["token_records"] > 1000
con.close()
"""


def _transcript(path: Path, megabytes: int) -> None:
    """Copies of the fixture with fresh ids, written as they are made."""
    text = SOURCE.read_text(encoding="utf-8").replace("__REPO__", "/home/dev/demo-repo")
    written, copy = 0, 0
    with path.open("w", encoding="utf-8") as fh:
        while written < megabytes * 2**20:
            tag = f"m{copy}x"
            chunk = (text.replace('"msg_', f'"msg_{tag}').replace('"req_', f'"req_{tag}')
                     .replace('"toolu_', f'"toolu_{tag}'))
            fh.write(chunk)
            written += len(chunk)
            copy += 1


def _peak_mb(path: Path, home: Path) -> float:
    env = {**os.environ, "WORKTALLY_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", IMPORT, str(path)], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    return usage.ru_maxrss / 1024


@pytest.mark.slow
def test_peak_memory_does_not_follow_the_file_size(tmp_path: Path) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _transcript(small, SMALL_MB)
    _transcript(large, LARGE_MB)
    small_peak = _peak_mb(small, tmp_path / "h1")
    large_peak = _peak_mb(large, tmp_path / "h2")
    assert large_peak - small_peak < BOUND_MB, (small_peak, large_peak)
