"""Headless Chromium runs the worktally extension on a fixture chat page; the code it copies
reaches the real native host, is pasted through the real `worktally lsp`, committed, and
`worktally commits` counts those lines as AI from tool browser-chat.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.cli.browser import extension_dir

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent / "browser_fixtures"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CLI_TIMEOUT_S = 120
SPOOL_DEADLINE_S = 60
LSP_TIMEOUT_S = 60

if CHROMIUM is None:
    pytest.skip("chromium is not installed (.ci/run installs it with apt)",
                allow_module_level=True)

CANARY = "zq_canary_chat_e2e_51c9"
CONVERSATION = {
    "history": [{"prompt": "an earlier question, shown when the chat reopens",
                 "answer": "an earlier answer that must not be counted again " * 20}],
    "prompt": f"write two small helpers for {CANARY}",
    "answer": "Here are two helpers you can paste into your project.",
    "blocks": [
        f"def {CANARY}_scale(values, factor):\n"
        "    scaled = [v * factor for v in values]\n"
        "    return [round(v, 3) for v in scaled]\n",
        "def clamp_between(value, low, high):\n"
        "    bounded = max(low, min(high, value))\n"
        "    return bounded\n",
    ],
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


@pytest.fixture
def fixture_server() -> Iterator[int]:
    handler = functools.partial(_QuietHandler, directory=str(FIXTURES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _worktally(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "worktally.client.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    assert proc.returncode == 0, f"worktally {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def _test_extension(tmp_path: Path) -> Path:
    """A copy of the shipped extension that also runs on the fixture's *.localhost pages."""
    target = tmp_path / "extension"
    shutil.copytree(extension_dir(), target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["content_scripts"][0]["matches"].append("http://*.localhost/*")
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def _spooled(home: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted((home / "spool" / "new").glob("*.json")):
        records.extend(json.loads(path.read_bytes())["records"])
    return records


def _wait_for_chat(home: Path, browser: subprocess.Popen[bytes], log: Path) -> list[Any]:
    """Poll the spool until both copies and the answer's token estimate have arrived."""
    deadline = time.monotonic() + SPOOL_DEADLINE_S
    while time.monotonic() < deadline:
        records = _spooled(home)
        snippets = [r for r in records if r["type"] == "chat_snippet"]
        answers = [r for r in records if r["type"] == "token_usage" and r["output_tokens"]]
        if len(snippets) >= 2 and answers:
            return records
        assert browser.poll() is None, f"chromium exited early: {log.read_text()[-2000:]}"
        time.sleep(0.2)
    raise AssertionError(f"the host spooled no chat copies in time: {log.read_text()[-3000:]}")


def _run_chromium(home: Path, user_data: Path, extension: Path, url: str,
                  log: Path) -> list[Any]:
    assert CHROMIUM is not None
    args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={user_data}", f"--load-extension={extension}",
            "--enable-logging=stderr", url]
    with log.open("wb") as err:
        browser = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        try:
            return _wait_for_chat(home, browser, log)
        finally:
            browser.terminate()
            try:
                browser.wait(timeout=20)
            except subprocess.TimeoutExpired:
                browser.kill()
                browser.wait(timeout=20)


def _paste_in_editor(repo_root: Path, target: Path, pastes: list[str]) -> None:
    """The real language server sees each block arrive as one multi-line insert (a paste)."""

    async def session() -> None:
        client = LanguageClient("worktally-browser-e2e", "1")
        await client.start_io(sys.executable, "-m", "worktally.client.cli", "lsp")
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=repo_root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=repo_root.as_uri(), name="ws")]))
        client.initialized(types.InitializedParams())
        uri = target.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text="")))
        line = 0
        for version, text in enumerate(pastes, start=2):
            at = types.Position(line=line, character=0)
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text=text)]))
            line += text.count("\n")
        await client.shutdown_async(None)
        client.exit(None)
        process = client._server
        assert process is not None
        assert await asyncio.wait_for(process.wait(), LSP_TIMEOUT_S) == 0
        await asyncio.wait_for(client.stop(), LSP_TIMEOUT_S)

    asyncio.run(asyncio.wait_for(session(), LSP_TIMEOUT_S))


def test_code_copied_from_a_chat_page_is_attributed_to_browser_chat(
    worktally_home: Path, tmp_path: Path, git_repo: Any, fixture_server: int,
) -> None:
    user_data = tmp_path / "chromium-profile"
    _worktally("browser", "install", "--user-data-dir", str(user_data))
    fragment = urllib.parse.quote(json.dumps(CONVERSATION))
    url = f"http://chatgpt.localhost:{fixture_server}/chat.html#{fragment}"

    records = _run_chromium(worktally_home, user_data, _test_extension(tmp_path), url,
                            tmp_path / "chromium.log")

    keyer = LineKeyer(load_or_create_secret())
    snippets = [r for r in records if r["type"] == "chat_snippet"]
    # One copy by the "Copy code" button, one by selecting and copying.
    assert sorted(map(tuple, (s["keys"] for s in snippets))) == sorted(
        tuple(keyer.keys_of_text(block)) for block in CONVERSATION["blocks"])
    (session_id,) = {s["session_id"] for s in snippets}
    assert session_id.startswith("browser-chat:") and {s["family"] for s in snippets} == {
        "chatgpt"}
    usage = {r["usage_id"]: r for r in records if r["type"] == "token_usage"}
    # The earlier turn was on screen before anything was sent: only the new prompt (seq 0)
    # and its answer (seq 1) count.
    tab = session_id.removeprefix("browser-chat:")
    assert set(usage) == {f"browser-chat:{tab}:0", f"browser-chat:{tab}:1"}
    prompt_tokens = max(u["input_tokens"] for u in usage.values())
    answer_tokens = max(u["output_tokens"] for u in usage.values())
    assert prompt_tokens == math.ceil(len(CONVERSATION["prompt"]) / 4)
    # The answer's text is its paragraph plus, per block, the button label and the code.
    answer_chars = len(CONVERSATION["answer"]) + sum(
        len("Copy code") + len(block) for block in CONVERSATION["blocks"])
    assert answer_tokens == math.ceil(answer_chars / 4)
    assert all(u["session_id"] == session_id for u in usage.values())

    repo = git_repo("project")
    repo.commit("initial", files={"README.md": "# project\n"})
    target = repo.root / "helpers.py"
    pasted = "".join(CONVERSATION["blocks"])
    _paste_in_editor(repo.root, target, list(CONVERSATION["blocks"]))
    target.write_text(pasted + "label_for_humans = 'typed by hand'\n", encoding="utf-8")
    sha = repo.commit("add helpers")
    _worktally("repos", "add", str(repo.root))
    _worktally("sync", "--json")
    commits = json.loads(_worktally("commits", "--json"))

    row = next(c for c in commits if c["sha"] == sha)
    chat_lines = len(keyer.keys_of_text(pasted))
    assert chat_lines == 6
    assert row["ai_by_tool"] == {"browser-chat": chat_lines}
    assert row["ai_lines"] == chat_lines
    assert row["bulk_lines"] == 0
    assert row["lines_added"] == chat_lines + 1
    # Neither the code nor the prompt reached any worktally file (DuckDB, spool, logs).
    local = b"".join(p.read_bytes() for p in worktally_home.rglob("*") if p.is_file())
    assert CANARY.encode() not in local
