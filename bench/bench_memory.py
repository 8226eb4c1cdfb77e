"""Peak memory of `worktally import claude-code` on one huge transcript, and of a live import
of a transcript that keeps growing.

Run: python bench/bench_memory.py [--gb 1.0] [--step-mb 64]. The transcript is written to
disk a copy of the shared samples at a time (fresh message, request and tool-call ids per
copy, one session), never held in memory.

1. Whole: a subprocess imports the file into a fresh home; its peak RSS (wait4's ru_maxrss,
   children included) against the file's size. Target: under 300 MB for 1 GB.
2. Live: one long-lived process, as the agent's watcher does, appends --step-mb at a time to
   a transcript and imports what is new after each step on the same connection; its peak
   RSS (VmHWM) after each step. Bounded means the last steps' peak is the first steps' peak,
   not a multiple of it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples" / "claude-code"
TARGET_MB = 300
SESSION = "5f0c7a52-3d4e-4b1a-9c8d-7e6f5a4b3c2d"


def _copies() -> Iterator[bytes]:
    """The samples again and again as one session, with fresh ids per copy."""
    texts = []
    for path in sorted(SAMPLES.glob("*.jsonl")):
        session = path.stem.split("__")[-1]
        texts.append(path.read_text(encoding="utf-8").replace(session, SESSION))
    copy = 0
    while True:
        tag = f"m{copy}x"
        for text in texts:
            yield (text.replace('"msg_', f'"msg_{tag}').replace('"req_', f'"req_{tag}')
                   .replace('"toolu_', f'"toolu_{tag}')).encode()
        copy += 1


def write_transcript(path: Path, size: int, source: Iterator[bytes] | None = None) -> int:
    """Append whole copies to `path` until it grew by at least `size` bytes; bytes added."""
    source = source or _copies()
    path.parent.mkdir(parents=True, exist_ok=True)
    added = 0
    with path.open("ab") as fh:
        while added < size:
            chunk = next(source)
            fh.write(chunk)
            added += len(chunk)
    return added


def whole(base: Path, gigabytes: float) -> None:
    config = base / "whole"
    transcript = config / "projects" / "big" / f"{SESSION}.jsonl"
    size = write_transcript(transcript, int(gigabytes * 2**30))
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(config), "WORKTALLY_HOME": str(base / "h1")}
    cmd = [sys.executable, "-m", "worktally.client.cli", "import", "claude-code", "--json"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the import failed")
    peak = usage.ru_maxrss / 1024
    doc = json.loads(out)
    print(f"whole: one {size / 2**20:,.0f} MB transcript imported in {elapsed:.1f} s, "
          f"{doc['totals']['total_tokens']:,} tokens, {doc['edits']:,} edits")
    print(f"  peak RSS {peak:.0f} MB = {peak / (size / 2**20):.2f}x the file "
          f"(target < {TARGET_MB} MB) {'OK' if peak < TARGET_MB else 'MISSED'}")
    transcript.unlink()


_LIVE = r"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench_memory import write_transcript, _copies
from worktally.client.capture.line_keys import default_keyer
from worktally.client.importers import import_tool
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db

transcript, steps, step = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
keyer = default_keyer()
registry = RepoRegistry(keyer)
con = db.connect()
source = _copies()
written = 0
for n in range(steps):
    written += write_transcript(transcript, step, source)
    summary = import_tool(con, keyer, registry, "claude-code", [transcript])
    duck = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]
    hwm = rss = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) // 1024
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) // 1024
    print(json.dumps({"written": written, "hwm": hwm, "rss": rss, "duckdb": duck // 2**20,
                      "records": summary.counts()["token_records"]}), flush=True)
con.close()
"""


def live(base: Path, steps: int, step_mb: int) -> None:
    transcript = base / "live" / "projects" / "grow" / f"{SESSION}.jsonl"
    env = {**os.environ, "WORKTALLY_HOME": str(base / "h2")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _LIVE, str(Path(__file__).parent), str(transcript), str(steps),
         str(step_mb * 2**20)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    peaks = []
    for line in proc.stdout:
        point = json.loads(line)
        peaks.append(point["hwm"])
        print(f"  after {point['written'] / 2**20:6,.0f} MB: peak RSS {point['hwm']:4d} MB, "
              f"now {point['rss']:4d} MB, of which DuckDB's own {point['duckdb']:3d} MB "
              f"({point['records']:,} new records)")
    if proc.wait() != 0:
        raise SystemExit("the live import failed")
    first, last = max(peaks[: max(1, len(peaks) // 4)]), max(peaks)
    print(f"live: {steps} steps of {step_mb} MB: peak RSS {first} MB within the first quarter, "
          f"{last} MB at the end ({last / first:.2f}x while the file grew {steps}x) "
          f"{'OK' if last < TARGET_MB and last <= first * 1.25 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=1.0, help="size of the whole transcript")
    parser.add_argument("--step-mb", type=int, default=64, help="live growth per step")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--skip-whole", action="store_true")
    args = parser.parse_args()
    if not SAMPLES.is_dir():
        raise SystemExit("../shared/samples is not present next to the repository")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if not args.skip_whole:
            whole(base, args.gb)
        live(base, args.steps, args.step_mb)


if __name__ == "__main__":
    main()
