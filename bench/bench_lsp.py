"""Editor lag: 10k key-by-key didChange notifications to a bare pygls server and to worktally's.

Run: python bench/bench_lsp.py [--changes 10000] [--lines 1000] [--runs 5]. Each server is a
real subprocess over stdio fed the same pre-encoded stream through a pipe, the two
alternating run after run; the wall time runs from the first didChange written to the answer
of a final request. Each run prints its pair's ratio; the summary gives medians, spreads
(min-max) and the median of the ratios. The per-change cost is also timed in-process
(perf_counter_ns): worktally's document update plus its handler, against pygls's own
document update. Targets: ratio <= 1.0x, p99 per-change latency < 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument

from worktally.client.capture.line_keys import default_keyer
from worktally.lsp.documents import OpenDocument, identify
from worktally.lsp.flusher import pending_edits
from worktally.lsp.line_document import LineTextDocument
from worktally.lsp.server import create_server, did_change

TARGET_RATIO = 1.0
TARGET_P99_MS = 1.0
TIMEOUT_S = 300
TYPED = "result = compute_total(items, discount=0.15)  # note 😀\n"


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}, separators=(",", ":")).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initial_text(lines: int) -> str:
    return "".join(f"line_{i} = value_{i} * {i}\n" for i in range(lines))


def typing_changes(count: int, start_line: int) -> list[tuple[int, int, str]]:
    """(line, UTF-16 column, char) for `count` keystrokes typed at `start_line`."""
    out: list[tuple[int, int, str]] = []
    line, column = start_line, 0
    while len(out) < count:
        for char in TYPED:
            if len(out) == count:
                break
            out.append((line, column, char))
            if char == "\n":
                line, column = line + 1, 0
            else:
                column += len(char.encode("utf-16-le")) // 2
    return out


def session(
    uri: str, root: Path, text: str, changes: list[tuple[int, int, str]]
) -> tuple[bytes, bytes]:
    """The opening of the session, and the didChange stream followed by a ping request."""
    head = b"".join([
        frame({"id": 1, "method": "initialize",
               "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}}),
        frame({"method": "initialized", "params": {}}),
        frame({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}}}),
        frame({"id": 2, "method": "bench/ping", "params": {}}),
    ])
    stream = b"".join(
        frame({"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": n + 2},
            "contentChanges": [{"range": {"start": {"line": ln, "character": col},
                                          "end": {"line": ln, "character": col}},
                                "text": char}]}})
        for n, (ln, col, char) in enumerate(changes)
    ) + frame({"id": 3, "method": "bench/ping", "params": {}})
    return head, stream


def read_until_id(stdout: Any, wanted: int) -> None:
    while True:
        length = 0
        while True:
            line = stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            if line == b"\r\n":
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if json.loads(stdout.read(length)).get("id") == wanted:
            return


def run_server(cmd: list[str], head: bytes, stream: bytes, env: dict[str, str]) -> float:
    """Seconds from the first didChange written to the answer of the final request."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(head)
        proc.stdin.flush()
        read_until_id(proc.stdout, 2)  # initialized and the document is open
        writer = threading.Thread(target=lambda: (proc.stdin.write(stream), proc.stdin.flush()))
        started = time.perf_counter()
        writer.start()
        read_until_id(proc.stdout, 3)
        elapsed = time.perf_counter() - started
        writer.join(TIMEOUT_S)
        proc.stdin.write(frame({"id": 4, "method": "shutdown"}) + frame({"method": "exit"}))
        proc.stdin.close()
        proc.wait(TIMEOUT_S)
        return elapsed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT_S)


def handler_latency(
    text: str, changes: list[tuple[int, int, str]], path: Path
) -> dict[str, Any]:
    """In-process, per change: worktally's document update plus its didChange handler, and
    pygls's own document update (what a bare server does) on the same change."""
    server = create_server()
    uri = path.as_uri()
    document = LineTextDocument(uri, text)
    reference = TextDocument(uri, text)
    keyer = default_keyer()
    doc = OpenDocument.open(uri, identify(path, "python", keyer), document, 2.0)
    server.documents[uri] = doc
    ours: list[int] = []
    pygls_update: list[int] = []
    for n, (ln, col, char) in enumerate(changes):
        change = types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(ln, col), end=types.Position(ln, col)),
            text=char)
        params = types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=n + 2),
            content_changes=[change])
        t0 = time.perf_counter_ns()
        reference.apply_change(change)
        t1 = time.perf_counter_ns()
        document.apply_change(change)
        did_change(server, params)
        t2 = time.perf_counter_ns()
        pygls_update.append(t1 - t0)
        ours.append(t2 - t1)
    assert document.source == reference.source
    t0 = time.perf_counter_ns()
    edits = pending_edits(doc, doc.tracker.take_settled(time.monotonic(), 0, everything=True))
    keys = sum(len(keyer.keys(e.texts)) for e in edits)
    flush_ms = (time.perf_counter_ns() - t0) / 1e6
    return {"ours": ours, "pygls": pygls_update, "flush_ms": flush_ms, "keys": keys}


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        (root / ".git").mkdir(parents=True)
        path = root / "typing.py"
        text = initial_text(args.lines)
        path.write_text(text, encoding="utf-8")
        env = {**os.environ, "WORKTALLY_HOME": str(Path(tmp) / "home")}
        os.environ["WORKTALLY_HOME"] = env["WORKTALLY_HOME"]
        changes = typing_changes(args.changes, args.lines // 2)
        head, stream = session(path.as_uri(), root, text, changes)
        bare_cmd = [sys.executable, "-c",
                    "from pygls.lsp.server import LanguageServer;"
                    "LanguageServer('bare', '1').start_io()"]
        ours_cmd = [sys.executable, "-m", "worktally.client.cli", "lsp"]
        bare, ours = [], []
        load = os.getloadavg()[0]
        for run in range(args.runs):  # interleaved, so machine load hits both alike
            first, second = (bare_cmd, ours_cmd) if run % 2 == 0 else (ours_cmd, bare_cmd)
            times = {id(first): run_server(first, head, stream, env),
                     id(second): run_server(second, head, stream, env)}
            bare.append(times[id(bare_cmd)])
            ours.append(times[id(ours_cmd)])
            print(f"  run {run + 1}: bare {bare[-1]:.3f} s, worktally {ours[-1]:.3f} s, "
                  f"ratio {ours[-1] / bare[-1]:.2f}")
        latency = handler_latency(text, changes, path)

    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    ratio = statistics.median(ratios)
    p50, p99 = pct(latency["ours"], 0.50), pct(latency["ours"], 0.99)
    print(f"didChange stream: {args.changes} keystrokes into a {args.lines}-line document, "
          f"{args.runs} runs each (load average {load:.1f} -> {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)")
    print(f"  bare pygls server   median {statistics.median(bare):6.3f} s "
          f"[{min(bare):.3f}-{max(bare):.3f}]  "
          f"({args.changes / statistics.median(bare):,.0f} changes/s)")
    print(f"  worktally lsp       median {statistics.median(ours):6.3f} s "
          f"[{min(ours):.3f}-{max(ours):.3f}]  "
          f"({args.changes / statistics.median(ours):,.0f} changes/s)")
    print(f"  ratio worktally/bare: median of pairs {ratio:.2f}x [{min(ratios):.2f}-"
          f"{max(ratios):.2f}], of medians "
          f"{statistics.median(ours) / statistics.median(bare):.2f}x   "
          f"(target <= {TARGET_RATIO}x) {'OK' if ratio <= TARGET_RATIO else 'MISSED'}")
    print(f"per-change latency in-process, worktally's document update + handler: "
          f"p50 {p50 * 1000:.1f} us, p99 {p99 * 1000:.1f} us, "
          f"max {max(latency['ours']) / 1e3:.1f} us "
          f"(target p99 < {TARGET_P99_MS} ms) {'OK' if p99 < TARGET_P99_MS else 'MISSED'}")
    print(f"pygls's own document update per change: p50 {pct(latency['pygls'], 0.5) * 1000:.1f} us,"
          f" p99 {pct(latency['pygls'], 0.99) * 1000:.1f} us")
    print(f"final flush of all dirty lines (slice + key {latency['keys']} keys): "
          f"{latency['flush_ms']:.2f} ms")


if __name__ == "__main__":
    main()
