"""Full Claude Code import: `worktally import claude-code` vs `ccusage claude session`.

Run: python bench/bench_import.py [--copies 230] [--skip-big] [--runs 3]. Both read the same
CLAUDE_CONFIG_DIR (the shared samples laid out as projects/<dir>/<file>), first as they
are, then a >=200 MB corpus made here by replicating the samples with fresh ids. Both run
as subprocesses, wall clock; ccusage runs through npx (its one-time download is warmed up
first). The ratio is worktally time / ccusage time (target: at most 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples" / "claude-code"
CCUSAGE = ["npx", "--yes", "ccusage@20.0.24", "claude", "session", "--json", "--offline"]
TIMEOUT_S = 1800
MIN_CORPUS_BYTES = 200 * 1024 * 1024


def lay_out(dest: Path, copies: int) -> int:
    """Write `copies` copies of the samples under dest/projects/; returns the bytes written."""
    written = 0
    samples = sorted(SAMPLES.glob("*.jsonl"))
    for copy in range(copies):
        project = dest / "projects" / f"project-{copy % 25}"
        project.mkdir(parents=True, exist_ok=True)
        for sample in samples:
            text = sample.read_text(encoding="utf-8")
            session = sample.stem.split("__")[-1]
            fresh = session if copy == 0 else str(uuid.uuid4())
            if copy:
                # Fresh message, request and tool-call ids, so no copy deduplicates against
                # another: each copy's tokens count and each copy's edits are keyed and stored.
                tag = f"c{copy}x"
                text = (text.replace(session, fresh).replace('"msg_', f'"msg_{tag}')
                        .replace('"req_', f'"req_{tag}').replace('"toolu_', f'"toolu_{tag}'))
            target = project / f"{fresh}.jsonl"
            target.write_text(text, encoding="utf-8")
            written += target.stat().st_size
    return written


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                         check=False)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {out.stderr[-2000:]}")
    return elapsed, json.loads(out.stdout)


def compare(label: str, config_dir: Path, home: Path, runs: int) -> None:
    """Alternate the two tools `runs` times (the machine is shared); print the medians.

    Every worktally run is a full import into a fresh WORKTALLY_HOME.
    """
    ours_times: list[float] = []
    theirs_times: list[float] = []
    for run in range(runs):
        fresh = home.with_name(f"{home.name}-{run}")
        env = {**os.environ, "CLAUDE_CONFIG_DIR": str(config_dir), "WORKTALLY_HOME": str(fresh)}
        ours_cmd = [sys.executable, "-c", "from worktally.client.cli import main; main()",
                    "import", "claude-code", "--json"]
        ours_s, ours = timed(ours_cmd, env)
        theirs_s, theirs = timed(CCUSAGE, env)
        shutil.rmtree(fresh, ignore_errors=True)
        ours_times.append(ours_s)
        theirs_times.append(theirs_s)
        ours_total = ours["totals"]["total_tokens"]
        theirs_total = theirs["totals"]["totalTokens"]
        print(f"{label} run {run + 1}: worktally {ours_s:.2f} s, ccusage {theirs_s:.2f} s, "
              f"ratio {ours_s / theirs_s:.2f}; total tokens {ours_total:,} vs "
              f"{theirs_total:,}{'' if ours_total == theirs_total else '  (MISMATCH)'}")
    ours_m, theirs_m = statistics.median(ours_times), statistics.median(theirs_times)
    print(f"{label} median of {runs}: worktally {ours_m:.2f} s, ccusage {theirs_m:.2f} s, "
          f"ratio {ours_m / theirs_m:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=230)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each tool")
    args = parser.parse_args()
    if not SAMPLES.is_dir():
        raise SystemExit("../shared/samples is not present next to the repository")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        small = base / "samples"
        lay_out(small, 1)
        # Warm npx's cache so the timing is ccusage's, not the download's.
        subprocess.run(CCUSAGE, capture_output=True, timeout=TIMEOUT_S, check=False,
                       env={**os.environ, "CLAUDE_CONFIG_DIR": str(small)})
        compare("samples (0.9 MB)", small, base / "home-small", args.runs)
        if args.skip_big:
            return
        big = base / "corpus"
        size = lay_out(big, args.copies)
        # Write the fresh corpus back to disk now, or its writeback slows whichever runs first.
        os.sync()
        if size < MIN_CORPUS_BYTES:
            print(f"note: corpus is {size / 2**20:.0f} MB, below 200 MB; raise --copies")
        compare(f"corpus ({size / 2**20:.0f} MB)", big, base / "home-big", args.runs)


if __name__ == "__main__":
    main()
