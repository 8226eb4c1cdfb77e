"""Full Claude Code import: `worktally import claude-code` vs ccusage's native binary.

Run: python bench/bench_import.py [--mb 112] [--runs 5]. Both read the same CLAUDE_CONFIG_DIR,
first the shared samples as they are, then a corpus of at least --mb MB made here by
replicating every Claude Code transcript of ../shared/samples and tests/fixtures with fresh
session, message, request and tool-call ids (so nothing deduplicates across copies: every
copy's tokens count, and every copy's edits are keyed and stored).

ccusage is timed as its native binary (`@ccusage/ccusage-linux-x64`, found under npx's cache
at run time; `npx --yes ccusage@20.0.24 --version` fetches it once), never through npx, whose
Node start-up adds about 0.4 s a run. Each worktally run is a full import into a fresh
WORKTALLY_HOME: keying the agent's edits and storing every row, work ccusage does not do.
The two alternate, run after run, on the same warm page cache; each line shows the pair's
ratio, and the summary gives medians, spreads (min-max) and the median of the ratios.
Target: ratio at most 1, with equal token totals.
"""

from __future__ import annotations

import argparse
import glob
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "samples"
SAMPLES = SHARED / "claude-code"
# Every Claude Code transcript the corpus replicates: (source, where it goes in a copy).
SOURCES = (
    (SAMPLES, "samples"),
    (ROOT / "tests" / "fixtures" / "importers" / "claude" / "projects", "fixtures"),
    (SHARED / "ccusage-fixtures", "ccusage-fixtures"),
    (SHARED / "semi-synthetic" / "claude-code", "semi-synthetic"),
)
CCUSAGE_VERSION = "20.0.24"
CCUSAGE_GLOB = "~/.npm/_npx/*/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
CCUSAGE_ARGS = ["claude", "session", "--json", "--offline"]
WORKTALLY = [sys.executable, "-m", "worktally.client.cli", "import", "claude-code", "--json"]
TIMEOUT_S = 1800
FIXTURE_REPO = "/home/dev/demo-repo"  # what the fixtures' __REPO__ placeholder becomes


def ccusage_binary() -> Path:
    """ccusage's native binary in npx's cache, fetched once through npx if missing."""
    found = sorted(glob.glob(os.path.expanduser(CCUSAGE_GLOB)))
    if not found:
        subprocess.run(["npx", "--yes", f"ccusage@{CCUSAGE_VERSION}", "--version"],
                       capture_output=True, timeout=TIMEOUT_S, check=False)
        found = sorted(glob.glob(os.path.expanduser(CCUSAGE_GLOB)))
    for candidate in found:
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True,
                             timeout=60, check=False)
        if CCUSAGE_VERSION in out.stdout:
            return Path(candidate)
    raise SystemExit(f"no native ccusage {CCUSAGE_VERSION} binary under {CCUSAGE_GLOB}")


def _transcripts() -> list[tuple[Path, str, str]]:
    """(file, its path inside a copy, its text) of every source transcript."""
    out = []
    for source, name in SOURCES:
        if not source.is_dir():
            continue
        for path in sorted(source.rglob("*.jsonl")):
            if name == "ccusage-fixtures" and not path.name.startswith("claude"):
                continue
            text = path.read_text(encoding="utf-8").replace("__REPO__", FIXTURE_REPO)
            out.append((path, f"{name}/{path.relative_to(source)}", text))
    return out


def _session_ids(text: str) -> set[str]:
    ids = set()
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("sessionId"), str):
            ids.add(doc["sessionId"])
    return ids


def lay_out(dest: Path, min_bytes: int) -> int:
    """Copies of every transcript under dest/projects/ until min_bytes; the bytes written.

    Copy 0 is the sources as they are; later copies get fresh session ids (in file names and
    lines alike) and message, request and tool-call ids tagged with the copy number.
    """
    sources = _transcripts()
    sessions = {rel: _session_ids(text) for _, rel, text in sources}
    written = copy = 0
    while copy == 0 or written < min_bytes:
        fresh = {sid: (sid if copy == 0 else str(uuid.uuid4()))
                 for ids in sessions.values() for sid in ids}
        for _, rel, text in sources:
            if copy:
                tag = f"c{copy}x"
                text = (text.replace('"msg_', f'"msg_{tag}').replace('"req_', f'"req_{tag}')
                        .replace('"toolu_', f'"toolu_{tag}'))
                for sid in sessions[rel]:
                    text = text.replace(f'"{sid}"', f'"{fresh[sid]}"')
            target = dest / "projects" / f"copy-{copy}" / rel
            for sid, new in fresh.items():  # a session's own file or folder is named by it
                target = Path(str(target).replace(sid, new)) if copy else target
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written += target.stat().st_size
        copy += 1
    return written


def _warm(folder: Path) -> None:
    """Read every file once and flush dirty pages, so neither tool pays for the other."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.read_bytes()
    os.sync()


def run_pair(cmds: dict[str, list[str]], env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """One run of each command, one after the other, with CPU time and peak RSS from wait4."""
    out: dict[str, dict[str, Any]] = {}
    for name, cmd in cmds.items():
        with tempfile.TemporaryFile() as errors:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, env=env)
            stdout = proc.stdout.read() if proc.stdout else b""
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.stdout:
                proc.stdout.close()
            if proc.returncode != 0:
                errors.seek(0)
                text = errors.read().decode(errors="replace")[-2000:]
                raise SystemExit(f"{name} failed: {text}")
        out[name] = {"wall": elapsed, "cpu": usage.ru_utime + usage.ru_stime,
                     "rss_mb": usage.ru_maxrss / 1024, "json": json.loads(stdout)}
    return out


def _total(name: str, doc: dict[str, Any]) -> int:
    return int(doc["totals"]["total_tokens"] if name == "worktally"
               else doc["totals"]["totalTokens"])


def _spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.3f}  "
            f"[{min(values):.3f}-{max(values):.3f}]")


def compare(label: str, config_dir: Path, home: Path, runs: int, binary: Path) -> float:
    """Alternate worktally and ccusage `runs` times; print each pair and the medians.

    Returns the median of the per-pair ratios (worktally wall / ccusage wall).
    """
    walls: dict[str, list[float]] = {"worktally": [], "ccusage": []}
    cpus: dict[str, list[float]] = {"worktally": [], "ccusage": []}
    rss: dict[str, list[float]] = {"worktally": [], "ccusage": []}
    ratios: list[float] = []
    print(f"{label}: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for run in range(runs):
        fresh = home.with_name(f"{home.name}-{run}")
        env = {**os.environ, "CLAUDE_CONFIG_DIR": str(config_dir), "WORKTALLY_HOME": str(fresh)}
        order = ("worktally", "ccusage") if run % 2 == 0 else ("ccusage", "worktally")
        cmds = {"worktally": WORKTALLY, "ccusage": [str(binary), *CCUSAGE_ARGS]}
        result = run_pair({name: cmds[name] for name in order}, env)
        shutil.rmtree(fresh, ignore_errors=True)
        for name, r in result.items():
            walls[name].append(r["wall"])
            cpus[name].append(r["cpu"])
            rss[name].append(r["rss_mb"])
        ours, theirs = result["worktally"], result["ccusage"]
        ratio = ours["wall"] / theirs["wall"]
        ratios.append(ratio)
        t_ours, t_theirs = _total("worktally", ours["json"]), _total("ccusage", theirs["json"])
        print(f"  run {run + 1}: worktally {ours['wall']:.3f} s (cpu {ours['cpu']:.2f} s), "
              f"ccusage {theirs['wall']:.3f} s (cpu {theirs['cpu']:.2f} s), "
              f"ratio {ratio:.2f}; total tokens {t_ours:,} vs {t_theirs:,}"
              f"{'' if t_ours == t_theirs else '  MISMATCH'}")
    print(f"  wall s   worktally {_spread(walls['worktally'])}   "
          f"ccusage {_spread(walls['ccusage'])}")
    print(f"  cpu s    worktally {_spread(cpus['worktally'])}   "
          f"ccusage {_spread(cpus['ccusage'])}")
    print(f"  peak RSS worktally {statistics.median(rss['worktally']):.0f} MB   "
          f"ccusage {statistics.median(rss['ccusage']):.0f} MB")
    median_ratio = statistics.median(ratios)
    print(f"  ratio worktally/ccusage: median of pairs {median_ratio:.2f} "
          f"[{min(ratios):.2f}-{max(ratios):.2f}], of medians "
          f"{statistics.median(walls['worktally']) / statistics.median(walls['ccusage']):.2f}"
          f"   (target <= 1) {'OK' if median_ratio <= 1 else 'MISSED'}")
    print(f"  load average after: {os.getloadavg()[0]:.1f}")
    return median_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=112.0, help="corpus size, at least")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each tool")
    parser.add_argument("--skip-small", action="store_true")
    args = parser.parse_args()
    if not SAMPLES.is_dir():
        raise SystemExit("../shared/samples is not present next to the repository")
    binary = ccusage_binary()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if not args.skip_small:
            small = base / "samples"
            size = lay_out(small, 0)
            _warm(small)
            compare(f"samples ({size / 2**20:.1f} MB)", small, base / "home-small", args.runs,
                    binary)
        big = base / "corpus"
        size = lay_out(big, int(args.mb * 2**20))
        files = sum(1 for _ in big.rglob("*.jsonl"))
        _warm(big)
        compare(f"corpus ({size / 2**20:.0f} MB, {files} files)", big, base / "home-big",
                args.runs, binary)


if __name__ == "__main__":
    main()
