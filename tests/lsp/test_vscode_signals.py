"""The VS Code extension's signals, computed by its own JavaScript, land right in the real server.

The extension's `insertedRange` (lsp/vscode/src/logic.js) turns before/after snapshots of an
inline-suggestion accept into the range it sends; here Node computes that range and the real
`worktally lsp` must attribute exactly the accepted lines to the provider.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lsp_editor import Editor, run_editor, spooled_edits

from worktally.client.capture.line_keys import LineKeyer

# Node runs the extension's own logic: like tests/e2e/, this may not skip in CI.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOGIC = ROOT / "lsp" / "vscode" / "src" / "logic.js"

# The cursor sits after the indentation on line 3 when the suggestion is accepted.
BEFORE = "import json\n\ndef load(path):\n    \n"
ACCEPTED = "with open(path) as handle:\n        return json.load(handle)"
AFTER = BEFORE.replace("    \n", "    " + ACCEPTED + "\n")
CHAT_BLOCK = (
    "def dump(data, path):\n    with open(path, 'w') as out:\n        json.dump(data, out)\n"
)
PASTE = "CLIPBOARD_CONSTANT = 'copied from somewhere'\nSECOND_CONSTANT = 12345\n"


def node_inserted_range(before: str, after: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the extension logic cannot run")
    script = (
        "const l = require(process.argv[1]);"
        "const [b, a] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(l.insertedRange(b, a)));"
    )
    out = subprocess.run(
        [node, "-e", script, str(LOGIC)], input=json.dumps([before, after]),
        capture_output=True, text=True, timeout=30, check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_extension_signals_attribute_in_the_real_server(git_repo, keyer: LineKeyer) -> None:
    inserted = node_inserted_range(BEFORE, AFTER)
    assert inserted["text"] == ACCEPTED
    repo = git_repo("vscode-signals")
    path = repo.write("loader.py", BEFORE)

    async def script(editor: Editor) -> None:
        uri = editor.open(path, BEFORE)
        start = inserted["range"]["start"]
        # The accept: VS Code sends the didChange, then the extension sends the aiEdit.
        editor.insert(uri, (start["line"], start["character"]), ACCEPTED)
        editor.notify("worktally/aiEdit", {"uri": uri, "range": inserted["range"],
                                           "tool": "copilot", "kind": "completion"})
        # A chat-editing insert at the end of the file, as the extension reports it.
        end_line = AFTER.count("\n")
        end = editor.insert(uri, (end_line, 0), CHAT_BLOCK)
        editor.notify("worktally/aiEdit", {
            "uri": uri, "range": {"start": {"line": end_line, "character": 0},
                                  "end": {"line": end[0], "character": end[1]}},
            "tool": "vscode-chat", "kind": "chat"})
        # A clipboard paste: stays bulk, marked as a paste.
        paste_end = editor.insert(uri, end, PASTE)
        editor.notify("worktally/paste", {"uri": uri, "range": {
            "start": {"line": end[0], "character": end[1]},
            "end": {"line": paste_end[0], "character": paste_end[1]}}})

    run_editor(repo.root, script)
    edits = spooled_edits()
    by_tool = Counter((e.source, e.tool, e.kind) for e in edits for _ in e.keys)
    assert by_tool[("ai", "copilot", "completion")] == len(keyer.keys_of_text(ACCEPTED))
    assert by_tool[("ai", "vscode-chat", "chat")] == len(keyer.keys_of_text(CHAT_BLOCK))
    pasted = Counter(k for e in edits if e.source == "bulk" and e.kind == "paste" for k in e.keys)
    assert pasted == Counter(keyer.keys_of_text(PASTE))
