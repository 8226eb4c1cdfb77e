"""Raw stdio: stdout carries only framed JSON-RPC, and captured edits survive abrupt endings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from lsp_editor import SERVER_CMD, spooled_edits

from worktally.client.capture.line_keys import LineKeyer

RUN_TIMEOUT_S = 30
BLOCK = "def handler(event):\n    return event.payload\n"


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def parse_frames(stream: bytes) -> list[dict[str, Any]]:
    """Split stdout into messages; fails on any byte that is not part of a frame."""
    messages = []
    rest = stream
    while rest:
        header, sep, rest = rest.partition(b"\r\n\r\n")
        assert sep, f"stray bytes on stdout: {header[:80]!r}"
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        body, rest = rest[:length], rest[length:]
        assert len(body) == length
        message = json.loads(body)
        assert message["jsonrpc"] == "2.0"
        messages.append(message)
    return messages


def opening(root: Path, path: Path) -> bytes:
    uri = path.as_uri()
    return b"".join([
        frame({"id": 1, "method": "initialize",
               "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}}),
        frame({"method": "initialized", "params": {}}),
        frame({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": ""}}}),
        frame({"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 0, "character": 0},
                                          "end": {"line": 0, "character": 0}},
                                "text": BLOCK}]}}),
    ])


def test_stdout_carries_only_protocol_even_with_debug_logging(git_repo) -> None:
    repo = git_repo("io")
    path = repo.write("h.py", "")
    session = opening(repo.root, path) + b"".join([
        frame({"id": 2, "method": "worktally/status", "params": {}}),
        frame({"id": 3, "method": "shutdown"}),
        frame({"method": "exit"}),
    ])
    done = subprocess.run([*SERVER_CMD, "-vv"], input=session, capture_output=True,
                          timeout=RUN_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    messages = parse_frames(done.stdout)
    answered = {m["id"]: m for m in messages if "id" in m}
    assert set(answered) == {1, 2, 3}
    assert answered[1]["result"]["serverInfo"]["name"] == "worktally"
    assert answered[1]["result"]["capabilities"]["textDocumentSync"]["change"] == 2
    assert answered[2]["result"]["agent"] is False
    assert b"DEBUG" in done.stderr  # the logs went to stderr, not stdout


def test_edits_survive_the_editor_vanishing_without_shutdown(
    git_repo, keyer: LineKeyer
) -> None:
    repo = git_repo("io")
    path = repo.write("h.py", "")
    # stdin simply ends: no shutdown, no exit (an editor crash).
    done = subprocess.run([*SERVER_CMD], input=opening(repo.root, path), capture_output=True,
                          timeout=RUN_TIMEOUT_S, check=False)
    parse_frames(done.stdout)
    assert [list(e.keys) for e in spooled_edits()] == [keyer.keys_of_text(BLOCK)]


def _read_message(stream: IO[bytes]) -> dict[str, Any]:
    length = 0
    while True:
        line = stream.readline()
        assert line, "server closed stdout"
        if line == b"\r\n":
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length))


def test_edits_survive_sigterm(git_repo, keyer: LineKeyer) -> None:
    repo = git_repo("io")
    path = repo.write("h.py", "")
    process = subprocess.Popen([*SERVER_CMD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(opening(repo.root, path)
                            + frame({"id": 2, "method": "worktally/status", "params": {}}))
        process.stdin.flush()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while _read_message(process.stdout).get("id") != 2:
            assert time.monotonic() < deadline
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=RUN_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=RUN_TIMEOUT_S)
    assert [list(e.keys) for e in spooled_edits()] == [keyer.keys_of_text(BLOCK)]
