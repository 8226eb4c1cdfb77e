"""Hook latency: the wall time of the command `worktally hooks install` writes into Claude
Code's and Cursor's settings, run as a real subprocess per edit, Python start-up included.

Run: python bench/bench_hook.py [--runs 20] [--home DIR]. Each run starts the command exactly
as the tool does (through /bin/sh, the JSON payload on stdin) and waits for it to exit; the
median and the fastest of the runs are printed next to the same numbers for a bare
`python -c pass` (the interpreter's own start-up, which no hook written in Python can beat),
`worktally hook` (the CLI path, for comparison) and, for scale, `import dataclasses`.
Runs of the commands are interleaved, so load on the machine falls on all of them alike.
Target: median <= 50 ms for the installed command.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 50.0
TIMEOUT_S = 60


def claude_payload(workdir: Path) -> bytes:
    return json.dumps({
        "session_id": "bench-session", "transcript_path": "", "cwd": str(workdir),
        "permission_mode": "default", "hook_event_name": "PostToolUse", "tool_name": "Edit",
        "tool_use_id": "toolu_bench", "tool_response": {"success": True},
        "tool_input": {"file_path": str(workdir / "src" / "app.py"),
                       "old_string": "def handler(request):\n    return respond(request)\n",
                       "new_string": "def handler(request):\n    audit(request)\n"
                                     "    return respond(request)\n"},
    }).encode()


def cursor_payload(workdir: Path) -> bytes:
    return json.dumps({
        "hook_event_name": "afterFileEdit", "conversation_id": "bench-conv",
        "generation_id": "bench-gen", "workspace_roots": [str(workdir)],
        "file_path": str(workdir / "src" / "app.ts"),
        "edits": [{"old_string": "const a = 1\n",
                   "new_string": "const a = 1\nconst limit = computeLimit(a)\n"}],
    }).encode()


def run_once(command: str, stdin: bytes, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", command], input=stdin, capture_output=True, env=env,
                   timeout=TIMEOUT_S, check=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--home", type=Path, help="WORKTALLY_HOME to use (default: a temp dir)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="wt-bench-hook-"))
    os.environ["WORKTALLY_HOME"] = str(home)
    from worktally.client.capture.line_keys import default_keyer
    from worktally.client.importers.hook_install import hook_command

    default_keyer()  # the per-install secret exists before the first edit, as in real use
    workdir = home / "work"
    python = shlex.quote(sys.executable)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    cases = {
        "python -c pass (start-up alone)": (f"{python} -c pass", b""),
        "python -c 'import dataclasses'": (f"{python} -c 'import dataclasses'", b""),
        "installed hook, claude-code": (hook_command("claude-code"), claude_payload(workdir)),
        "installed hook, cursor": (hook_command("cursor"), cursor_payload(workdir)),
        "worktally hook claude-code (CLI)": (
            f"WORKTALLY_HOME={shlex.quote(str(home))} {python} -m worktally.client.cli "
            "hook claude-code", claude_payload(workdir)),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for command, stdin in cases.values():
        run_once(command, stdin, env)  # warm the page cache; not counted
    for _ in range(args.runs):
        for name, (command, stdin) in cases.items():
            times[name].append(run_once(command, stdin, env))
    spooled = len(list((home / "spool" / "new").glob("*.json")))
    print(f"{args.runs} runs each, interleaved; {spooled} spool batches written")
    print(f"{'command':40} {'median ms':>10} {'fastest ms':>11}")
    for name, values in times.items():
        print(f"{name:40} {statistics.median(values):10.1f} {min(values):11.1f}")
    hook = statistics.median(times["installed hook, claude-code"])
    startup = statistics.median(times["python -c pass (start-up alone)"])
    verdict = "meets" if hook <= TARGET_MS else "misses"
    print(f"installed claude-code hook: {hook:.1f} ms median, {verdict} the {TARGET_MS:.0f} ms "
          f"target; {hook - startup:.1f} ms above the interpreter's own start-up")
    loadavg = Path("/proc/loadavg")
    if loadavg.exists():
        print(f"load average after the run: {loadavg.read_text().split()[0]}")


if __name__ == "__main__":
    main()
