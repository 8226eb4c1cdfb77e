"""Time attribution of one 5,000-line commit against 1,000,000 stored AI line keys (target 1 s).

Run: python bench/bench_attribution.py  (uses a temporary git repo, DB and WORKTALLY_HOME).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from worktally.client.attribution.commits import attribute_new_commits
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.capture.records import EditEvent
from worktally.client.config import Config
from worktally.client.repos.registry import Repo
from worktally.client.store import db, drain

TARGET_S = 1.0
STORED_KEYS = 1_000_000
COMMIT_LINES = 5_000
KEYS_PER_EVENT = 5_000


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, timeout=60,
                   capture_output=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["WORKTALLY_HOME"] = str(base / "home")
        keyer = LineKeyer(os.urandom(32))
        con = db.connect(base / "bench.duckdb")
        commit_lines = [f"bench_line_{i} = transform(value_{i}, {i})" for i in range(COMMIT_LINES)]
        ai_from_commit = keyer.keys(commit_lines[: COMMIT_LINES // 2])
        started = time.perf_counter()
        stored = 0
        batch: list[EditEvent] = []
        while stored < STORED_KEYS:
            chunk = [f"noise_{stored + i} = other({i})" for i in range(KEYS_PER_EVENT)]
            keys = keyer.keys(chunk)
            if stored == 0:
                keys = ai_from_commit + keys[len(ai_from_commit):]
            batch.append(EditEvent(source="ai", keys=tuple(keys), file_id="f", tool="codex",
                                   kind="agent", session_id=f"s{stored}",
                                   ts=time.time() - 3600))
            stored += len(keys)
            if len(batch) == 20:
                drain.write_edits(con, batch)
                batch = []
        drain.write_edits(con, batch)
        print(f"stored {stored:,} AI line keys in {time.perf_counter() - started:.1f} s")

        root = base / "repo"
        root.mkdir()
        git(root, "init", "-q")
        git(root, "config", "user.email", "bench@example.com")
        git(root, "config", "user.name", "Bench")
        (root / "big.py").write_text("\n".join(commit_lines) + "\n", encoding="utf-8")
        git(root, "add", "big.py")
        git(root, "commit", "-q", "-m", "big")
        repo = Repo(repo_id=keyer.label(str(root)), path=str(root), added_at=time.time())

        started = time.perf_counter()
        processed = attribute_new_commits(con, keyer, repo, Config())
        elapsed = time.perf_counter() - started
        ai = con.execute("SELECT ai_lines FROM commits").fetchone()
        assert processed == 1 and ai == (COMMIT_LINES // 2,), (processed, ai)
        print(f"attributed a {COMMIT_LINES:,}-line commit in {elapsed:.3f} s "
              f"({elapsed / TARGET_S:.2f}x the {TARGET_S:.0f} s target)")


if __name__ == "__main__":
    main()
