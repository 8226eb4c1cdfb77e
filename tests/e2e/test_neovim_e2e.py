"""Real headless Neovim (0.7+) running the worktally plugin: its pure parts and copilot hooks,
then a whole session through `worktally lsp`, git, `worktally sync` and `worktally commits`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "nvim"
NVIM = shutil.which("nvim")
NVIM_TIMEOUT_S = 90
CLI_TIMEOUT_S = 120

if NVIM is None:
    pytest.skip("nvim is not installed (.ci/run installs it with apt)", allow_module_level=True)


def _nvim_version() -> tuple[int, int]:
    out = subprocess.run([NVIM, "--version"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    assert match, f"unexpected `nvim --version` output: {out[:200]}"
    return int(match.group(1)), int(match.group(2))


if _nvim_version() < (0, 7):
    pytest.skip("the plugin needs Neovim 0.7 or newer", allow_module_level=True)


def run_headless(script: Path, env: dict[str, str], cwd: Path, result: Path) -> dict[str, Any]:
    """Run a Lua script in `nvim --headless -u NONE` and return the JSON it wrote."""
    # Keep Neovim's own files (lsp.log, swap, shada) out of the real home: -n, -i NONE and
    # private XDG dirs.
    xdg = {f"XDG_{kind}_HOME": str(result.parent / "xdg" / kind.lower())
           for kind in ("CONFIG", "DATA", "STATE", "CACHE")}
    proc = subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {script}"],
        cwd=cwd, env={**os.environ, **xdg, **env, "WORKTALLY_TEST_RESULT": str(result)},
        capture_output=True, text=True, timeout=NVIM_TIMEOUT_S, check=False,
    )
    assert proc.returncode == 0, f"nvim failed ({proc.returncode}): {proc.stderr[-2000:]}"
    data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    return data


# (before lines, after lines, cursor {row, col} or None) -> expected LSP range.
INSERTION_CASES: list[tuple[str, list[str], list[str], list[int] | None,
                            tuple[int, int, int, int] | None]] = [
    ("block into empty line", ["a = 1", ""], ["a = 1", "x", "y"], [2, 0], (1, 0, 2, 1)),
    ("mid-line completion", ["foo()"], ["foo(bar, baz)"], [1, 4], (0, 4, 0, 12)),
    ("nothing inserted", ["same"], ["same"], [1, 2], None),
    ("deletion only", ["abcdef"], ["abf"], [1, 2], None),
    # Any "ab" line could be the new one: the cursor says where the accept inserted.
    ("repeat resolved by cursor", ["ab", "ab"], ["ab", "ab", "ab"], [1, 2], (1, 0, 1, 2)),
    ("repeat without cursor", ["ab", "ab"], ["ab", "ab", "ab"], None, (2, 0, 2, 2)),
    # Columns are UTF-16 units: é is 1, the emoji 2.
    ("utf-16 columns", ["é😀"], ["é😀é😀x"], [1, 6], (0, 3, 0, 7)),
    ("replaces text before cursor", ["def fo"], ["def foo():", "    pass"], [1, 6],
     (0, 6, 1, 8)),
    # Line-wise puts: only the new lines, not the neighbour that holds the line break.
    ("lines put in the middle", ["one", "two"], ["one", "p1", "p2", "two"], None,
     (1, 0, 2, 2)),
    ("lines put at the end", ["one", "two"], ["one", "two", "p1", "p2"], None, (2, 0, 3, 2)),
    ("line break only", ["one", "two"], ["one", "", "two"], None, None),
]


@pytest.fixture(scope="module")
def plugin_checks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("nvim-plugin")
    cases = [{"before": c[1], "after": c[2], "cursor": c[3]} for c in INSERTION_CASES]
    env = {"WORKTALLY_TEST_CASES": json.dumps(cases), "WORKTALLY_HOME": str(tmp / "home")}
    return run_headless(SCRIPTS / "plugin_checks.lua", env, tmp, tmp / "result.json")


@pytest.mark.parametrize("index", range(len(INSERTION_CASES)),
                         ids=[c[0] for c in INSERTION_CASES])
def test_inserted_range(plugin_checks: dict[str, Any], index: int) -> None:
    want = INSERTION_CASES[index][4]
    got = plugin_checks["ranges"][index]
    if want is None:
        assert got is None
        return
    start, end = got["start"], got["end"]
    assert (start["line"], start["character"], end["line"], end["character"]) == want


def test_utf16_units(plugin_checks: dict[str, Any]) -> None:
    assert plugin_checks["utf16"] == 1 + 1 + 2


def test_copilot_vim_mapping_is_wrapped_once_and_still_recognised(
    plugin_checks: dict[str, Any],
) -> None:
    # The stand-in maps <Tab> to copilot#Accept() and <Plug>(copilot-accept-line).
    assert plugin_checks["wrapped_first"] == 2
    assert plugin_checks["wrapped_again"] == 0
    assert plugin_checks["rhs_before"] == "copilot#Accept()"
    assert "copilot#Accept()" in plugin_checks["rhs_after"]
    assert plugin_checks["rhs_after"] != plugin_checks["rhs_before"]
    # copilot.vim stops suggesting when it no longer finds its own mapping.
    assert plugin_checks["copilot_sees_its_mapping"] is True


def test_copilot_vim_fallback_and_accept_still_work(plugin_checks: dict[str, Any]) -> None:
    assert plugin_checks["fallback_line"] == "x\ty"
    assert plugin_checks["accepted_lines"] == ["x\ty", "first line", "second line"]


def test_copilot_lua_accept_is_wrapped_once(plugin_checks: dict[str, Any]) -> None:
    assert plugin_checks["lua_wrapped_first"] is True
    assert plugin_checks["lua_wrapped_again"] is False
    assert plugin_checks["lua_accept_replaced"] is True
    assert plugin_checks["lua_bound_key_rebound"] is True


def test_status_line_says_when_the_agent_is_down(plugin_checks: dict[str, Any]) -> None:
    assert plugin_checks["status_up"] == (
        "worktally today: typed 2 · ai 6 · ai modified 1 · bulk 3 · external 0")
    down = plugin_checks["status_down"]
    assert down.startswith("worktally: the worktally agent is not running: 4 batches")
    assert "12 lines) wait in the spool" in down
    assert down.endswith("This session: typed 0 · ai 0 · ai modified 0 · bulk 0 · external 0"
                         " (paused)")


def test_missing_server_is_reported_once(plugin_checks: dict[str, Any]) -> None:
    notes = plugin_checks["missing_server_notes"]
    assert len(notes) == 1
    assert "no-such-worktally" in notes[0] and "setup(" in notes[0]
    assert plugin_checks["missing_server_client"] is False


BLOCKS = {
    "typed": ["typed_total = 41", 'typed_label = "hand"'],
    "copilot_vim": ["def ai_vim_helper(x):", "    doubled = x * 2", "    return doubled + 1"],
    "paste": ["pasted_one = [1, 2, 3]", 'pasted_two = {"k": "v"}',
              "pasted_three = len(pasted_one)"],
    "copilot_lua": ["def ai_lua_helper(y):", "    tripled = y * 3", "    return tripled - 1"],
}
# Copied from a browser AI chat's answer, then put into the buffer like any paste.
BROWSER_BLOCK = ["def chat_suggested(rows):", "    kept = [r for r in rows if r]",
                 "    return sorted(kept)"]
CHAT_TAB = "3b1f6c2e-9a47-4d0e-8c55-7e2a9d4f1b60"


def copy_from_browser_chat(text: str) -> None:
    """Speak the native-messaging wire format to the real host, as the extension does."""
    from worktally.client.cli.browser import EXTENSION_ID

    message = json.dumps({"type": "copy", "family": "chatgpt", "session": CHAT_TAB,
                          "text": text}).encode()
    proc = subprocess.run(
        [sys.executable, "-m", "worktally.client.cli", "browser", "host",
         f"chrome-extension://{EXTENSION_ID}/"],
        input=struct.pack("<I", len(message)) + message, capture_output=True,
        timeout=CLI_TIMEOUT_S, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    (length,) = struct.unpack("<I", proc.stdout[:4])
    assert json.loads(proc.stdout[4:4 + length]) == {"ok": True, "keys": 3}


def _worktally(*args: str, cwd: Path) -> str:
    exe = Path(sys.executable).with_name("worktally")
    proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, check=False)
    assert proc.returncode == 0, f"worktally {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("mark_pastes", [False, True], ids=["paste-inferred", "paste-marked"])
def test_neovim_session_is_attributed_line_by_line(
    git_repo: Any, worktally_home: Path, tmp_path: Path, mark_pastes: bool,
) -> None:
    exe = Path(sys.executable).with_name("worktally")
    assert exe.is_file(), "the worktally console script is not installed next to python"
    repo = git_repo("project")
    repo.commit("initial", files={"README.md": "# project\n"})
    target = repo.root / "calc.py"
    # With the browser integration on: the chat answer's code block is copied first.
    copy_from_browser_chat("\n".join(BROWSER_BLOCK) + "\n")
    blocks = {**BLOCKS, "browser": BROWSER_BLOCK}

    env = {"WORKTALLY_BIN": str(exe), "WORKTALLY_TEST_FILE": str(target),
           "WORKTALLY_TEST_BLOCKS": json.dumps(blocks),
           "WORKTALLY_TEST_MARK_PASTES": "1" if mark_pastes else "0"}
    session = run_headless(SCRIPTS / "session.lua", env, repo.root, tmp_path / "session.json")

    expected_text = [line for name in ("typed", "copilot_vim", "paste", "browser", "copilot_lua")
                     for line in blocks[name]]
    assert session["lines"] == expected_text
    assert target.read_text(encoding="utf-8") == "\n".join(expected_text) + "\n"
    assert session["exit"] == {"code": 0, "signal": 0}
    assert session["status"].get("err") is None
    # The server's own counts (no agent runs), as :WorktallyStatus shows them: the editor
    # cannot tell the browser copy from any other put, so both puts are bulk here.
    result = session["status"]["result"]
    assert {k: result[k] for k in ("typed", "ai", "bulk", "external", "paused", "agent")} == {
        "typed": 2, "ai": 6, "bulk": 6, "external": 0, "paused": False, "agent": False,
    }
    # The agent is down: the reply says so, with the lines waiting in the spool.
    assert (result["ai_modified"], result["counts"]) == (0, "session")
    assert result["spool"]["edit_lines"] >= 14 and "not running" in result["note"]
    # The plugin reported exactly the two accepted blocks (0-based lines 2-4 and 11-13) and,
    # when asked to, the two puts (lines 5-7 and 8-10); the same edits are attributed
    # either way.
    reported = [(m["method"], m["range"]["start"]["line"], m["range"]["end"]["line"])
                for m in session["marks"]]
    expected_marks = [("worktally/aiEdit", 2, 4), ("worktally/aiEdit", 11, 13)]
    if mark_pastes:
        expected_marks[1:1] = [("worktally/paste", 5, 7), ("worktally/paste", 8, 10)]
    assert reported == expected_marks

    sha = repo.commit("add calc")
    _worktally("sync", cwd=repo.root)
    commits = json.loads(_worktally("commits", "--json", cwd=repo.root))
    row = next(c for c in commits if c["sha"] == sha)
    # The accepted completions are AI (copilot), the clipboard paste stays bulk, and the put
    # of the browser chat's code matches its copied keys: AI (browser-chat).
    assert row["lines_added"] == len(expected_text)
    assert row["ai_lines"] == 9
    assert row["ai_by_tool"] == {"copilot": 6, "browser-chat": 3}
    assert row["bulk_lines"] == 3
    assert row["human_lines"] == 2
    assert row["external_lines"] == 0


TRUTH_BLOCKS: dict[str, Any] = {
    "typed": ["typed_total = 41", 'typed_label = "hand"'],
    "copilot_vim": ["def ai_vim_helper(x):", "    doubled = x * 2", "    return doubled + 1"],
    "paste": ["pasted_one = [1, 2, 3]", 'pasted_two = {"k": "v"}'],
    # Buffer line 4 is the accepted block's second line; the person appends to it.
    "edit": {"line": 4, "text": " + offset"},
}
LEGACY = [f"legacy_value_{i} = compute_legacy({i})" for i in range(5)]
VENDORED = ["vendored_a = third_party_value(1)", "vendored_b = third_party_value(2)"]
GENERATED = ["generated_a = build_step_output(1)", "generated_b = build_step_output(2)"]
CLASS_KEYS = ("lines_added", "ai_lines", "ai_modified_lines", "human_lines", "bulk_lines",
              "external_lines", "unknown_lines")


def test_every_line_class_end_to_end(git_repo: Any, worktally_home: Path,
                                     tmp_path: Path) -> None:
    """History from before the repo was watched is unknown, an AI line the person edits is
    ai_modified, typed lines are human, a put is bulk, a file written on disk is external and
    a file nothing saw being written is unknown."""
    exe = Path(sys.executable).with_name("worktally")
    repo = git_repo("truth")
    legacy = repo.commit("history before worktally",
                         files={"legacy.py": "\n".join(LEGACY) + "\n"},
                         when=int(time.time()) - 2 * 86_400)
    target = repo.root / "calc.py"
    env = {"WORKTALLY_BIN": str(exe), "WORKTALLY_TEST_FILE": str(target),
           "WORKTALLY_TEST_BLOCKS": json.dumps(TRUTH_BLOCKS)}
    session = run_headless(SCRIPTS / "truth_session.lua", env, repo.root, tmp_path / "t.json")

    ai_block = TRUTH_BLOCKS["copilot_vim"]
    edited = [ai_block[0], ai_block[1] + TRUTH_BLOCKS["edit"]["text"], ai_block[2]]
    assert session["lines"] == [*TRUTH_BLOCKS["typed"], *edited, *TRUTH_BLOCKS["paste"]]
    assert session["exit"] == {"code": 0, "signal": 0}
    status = session["status"]["result"]
    assert (status["typed"], status["bulk"], status["ai"] + status["ai_modified"]) == (2, 2, 3)
    assert status["agent"] is False and "agent is not running" in session["status_line"]

    # A file copied in while only the editor ran: nothing saw it being written.
    repo.write("vendored.py", "\n".join(VENDORED) + "\n")
    first = json.loads(_worktally("sync", "--json", cwd=repo.root))
    assert first["registrations"] == 1  # the language server asked to watch the repo
    # Written on disk once the repo is watched: the watcher's external lines.
    repo.write("generated.py", "\n".join(GENERATED) + "\n")
    second = json.loads(_worktally("sync", "--json", cwd=repo.root))
    assert second["external_edits"] == 2
    sha = repo.commit("add calc")
    _worktally("sync", cwd=repo.root)
    commits = {c["sha"]: c for c in json.loads(_worktally("commits", "--json", cwd=repo.root))}

    history = commits[legacy]
    assert {k: history[k] for k in CLASS_KEYS} == {
        "lines_added": 5, "ai_lines": 0, "ai_modified_lines": 0, "human_lines": 0,
        "bulk_lines": 0, "external_lines": 0, "unknown_lines": 5}
    row = commits[sha]
    assert {k: row[k] for k in CLASS_KEYS} == {
        "lines_added": 11, "ai_lines": 2, "ai_modified_lines": 1, "human_lines": 2,
        "bulk_lines": 2, "external_lines": 2, "unknown_lines": 2}
    assert row["ai_by_tool"] == {"copilot": 2}
    me = json.loads(_worktally("me", "--since", dt.date.today().isoformat(), "--json",
                               cwd=repo.root))
    # Observed lines only: 2 AI lines of 9 observed (the 7 unknown are left out).
    assert me["committed_lines"]["observed"] == 9 and me["ai_share_pm"] == 222
