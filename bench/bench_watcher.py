"""Watcher and external-edit scan on a 100k-file work tree: start time, reaction, memory.

Builds a real git repo of N small committed files (default 100,000 in 1,000 folders), then
measures, in this process: how long `RepoWatcher.start()` takes, how long until a file written
by "an agent" reaches the callback, and how long `scanner.scan` takes for that change against
a scan of a 100-file tree (the baseline, so the ratio shows how the scan scales with tree
size). Peak RSS is printed too. Usage: python bench/bench_watcher.py [--files N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from worktally.client import config
from worktally.client.capture.line_keys import LineKeyer
from worktally.client.external import scanner
from worktally.client.external.watcher import RepoWatcher
from worktally.client.repos.registry import Repo
from worktally.client.store import db

GIT_TIMEOUT_S = 900


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   timeout=GIT_TIMEOUT_S)


def make_tree(root: Path, files: int) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "bench")
    per_dir = 100
    for i in range(files):
        folder = root / f"pkg{i // per_dir:04d}"
        if i % per_dir == 0:
            folder.mkdir()
        (folder / f"mod{i % per_dir:03d}.py").write_text(f"VALUE_{i} = compute({i})\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tree")


def measure(root: Path, keyer: LineKeyer, home: Path) -> dict[str, float]:
    repo = Repo(repo_id=keyer.label(str(root)), path=str(root), added_at=time.time())
    cfg = config.Config()
    con = db.connect(home / f"{root.name}.duckdb")
    scanner.scan(con, keyer, repo, cfg)  # baseline snapshot, as the agent does at start
    seen = threading.Event()

    def on_files(repo_id: str, relpaths: set[str]) -> None:
        if "pkg0000/agent_written.py" in relpaths:
            seen.set()

    watcher = RepoWatcher([repo], on_files, lambda repo_id: None)
    started = time.perf_counter()
    watcher.start()
    start_s = time.perf_counter() - started
    written = time.perf_counter()
    (root / "pkg0000" / "agent_written.py").write_text(
        "def generated_by_agent():\n    return compute_answer(42)\n")
    reacted = seen.wait(timeout=120)
    react_s = time.perf_counter() - written if reacted else float("nan")
    watcher.stop()
    scanned = time.perf_counter()
    lines = scanner.scan(con, keyer, repo, cfg)
    scan_s = time.perf_counter() - scanned
    con.close()
    return {"start_s": start_s, "react_s": react_s, "scan_s": scan_s, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["WORKTALLY_HOME"] = str(base / "home")
        keyer = LineKeyer(b"b" * 32)
        small, large = base / "small", base / "large"
        make_tree(small, 100)
        built = time.perf_counter()
        make_tree(large, args.files)
        print(f"built a {args.files}-file repo in {time.perf_counter() - built:.1f} s")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        base_run = measure(small, keyer, base)
        big_run = measure(large, keyer, base)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{'':22}{'100 files':>12}{args.files:>10} files")
    for key, label in (("start_s", "watcher start (s)"), ("react_s", "write -> callback (s)"),
                       ("scan_s", "external scan (s)")):
        print(f"{label:22}{base_run[key]:12.3f}{big_run[key]:16.3f}")
    print(f"external lines found: {base_run['lines']} (small), {big_run['lines']} (large)")
    print(f"scan ratio large/small: {big_run['scan_s'] / base_run['scan_s']:.1f}x "
          f"for {args.files // 100}x the files")
    print(f"peak RSS: {rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB after")


if __name__ == "__main__":
    main()
