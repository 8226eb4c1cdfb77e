"""`worktally hooks install|uninstall`: the user's settings keep everything of theirs, byte for
byte when the file was not touched since; the installed command really records an edit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from worktally.client.capture.spool import Spool
from worktally.client.errors import WorktallyError
from worktally.client.importers import hook_install

TIMEOUT_S = 30
# A user's settings as people write them: four-space indent, their own hooks and keys.
CLAUDE_SETTINGS = """{
    "permissions": {
        "allow": ["Bash(npm run test:*)", "Read(~/.zshrc)"]
    },
    "hooks": {
        "PostToolUse": [
            {
                "matcher": "Write",
                "hooks": [{"type": "command", "command": "prettier --write \\"$FILE\\""}]
            }
        ]
    },
    "model": "opus",
    "env": {"DISABLE_TELEMETRY": "1"}
}
"""
CURSOR_HOOKS = """{
  "version": 1,
  "hooks": {
    "beforeShellExecution": [{"command": "./hooks/audit.sh"}]
  }
}
"""


def _cli(*args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run([sys.executable, "-m", "worktally.client.cli", *args],
                         capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_claude_install_then_uninstall_restores_the_bytes(tmp_path: Path) -> None:
    settings = tmp_path / "claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(CLAUDE_SETTINGS)
    data = _cli("hooks", "install", "claude-code", "--json",
                env={"CLAUDE_CONFIG_DIR": str(tmp_path / "claude")})
    assert data["changed"] and data["settings"] == str(settings)
    doc = json.loads(settings.read_text())
    groups = doc["hooks"]["PostToolUse"]
    assert groups[0]["matcher"] == "Write"  # the user's own hook, untouched, first
    assert groups[1]["matcher"] == "Edit|MultiEdit|Write|NotebookEdit"
    assert hook_install.HOOK_MODULE in groups[1]["hooks"][0]["command"]
    assert doc["model"] == "opus" and doc["permissions"]["allow"][0] == "Bash(npm run test:*)"
    assert '\n    "model"' in settings.read_text()  # the file's own indentation kept
    again = _cli("hooks", "install", "claude-code", "--json",
                 env={"CLAUDE_CONFIG_DIR": str(tmp_path / "claude")})
    assert not again["changed"] and len(json.loads(settings.read_text())["hooks"][
        "PostToolUse"]) == 2
    gone = _cli("hooks", "uninstall", "claude-code", "--json")
    assert gone["changed"]
    assert settings.read_text() == CLAUDE_SETTINGS


def test_claude_uninstall_after_the_user_edited_removes_only_ours(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(CLAUDE_SETTINGS)
    hook_install.install("claude-code", settings)
    doc = json.loads(settings.read_text())
    doc["permissions"]["allow"].append("WebFetch(domain:example.com)")
    settings.write_text(json.dumps(doc, indent=4) + "\n")
    change = hook_install.uninstall("claude-code")
    assert change.changed and "removed 1" in change.detail
    after = json.loads(settings.read_text())
    original = json.loads(CLAUDE_SETTINGS)
    original["permissions"]["allow"].append("WebFetch(domain:example.com)")
    assert after == original  # their edit kept, their own PostToolUse hook kept
    assert not hook_install.is_installed("claude-code", settings)


def test_claude_install_without_settings_creates_and_uninstall_deletes(tmp_path: Path,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "fresh"))
    change = hook_install.install("claude-code")
    settings = tmp_path / "fresh" / "settings.json"
    assert change.settings == settings and settings.exists()
    assert hook_install.is_installed("claude-code")
    hook_install.uninstall("claude-code")
    assert not settings.exists()


def test_cursor_install_and_uninstall(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    hooks = tmp_path / ".cursor" / "hooks.json"
    hooks.parent.mkdir()
    hooks.write_text(CURSOR_HOOKS)
    hook_install.install("cursor")
    doc = json.loads(hooks.read_text())
    assert doc["hooks"]["beforeShellExecution"] == [{"command": "./hooks/audit.sh"}]
    for event in ("afterFileEdit", "afterTabFileEdit"):
        assert hook_install.HOOK_MODULE in doc["hooks"][event][0]["command"]
        assert doc["hooks"][event][0]["command"].endswith(" cursor")
    hook_install.uninstall("cursor")
    assert hooks.read_text() == CURSOR_HOOKS
    # Installed into no file at all, then the user added a hook of theirs: only ours goes.
    hooks.unlink()
    hook_install.install("cursor")
    doc = json.loads(hooks.read_text())
    doc["hooks"]["stop"] = [{"command": "./notify.sh"}]
    hooks.write_text(json.dumps(doc))
    hook_install.uninstall("cursor")
    assert json.loads(hooks.read_text()) == {"version": 1,
                                            "hooks": {"stop": [{"command": "./notify.sh"}]}}


def test_broken_settings_are_refused_untouched(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"model": "opus",')
    with pytest.raises(WorktallyError, match="not valid JSON"):
        hook_install.install("claude-code", settings)
    assert settings.read_text() == '{"model": "opus",'
    assert hook_install.uninstall("claude-code", tmp_path / "none.json").changed is False


def test_the_installed_command_records_an_edit(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    hook_install.install("claude-code", settings)
    command = json.loads(settings.read_text())["hooks"]["PostToolUse"][0]["hooks"][0]["command"]
    payload = {"session_id": "s1", "cwd": str(tmp_path), "tool_use_id": "toolu_1",
               "hook_event_name": "PostToolUse", "tool_name": "Write",
               "tool_input": {"file_path": str(tmp_path / "a.py"),
                              "content": "value = compute_total(1)\n"}}
    # As Claude Code runs it: through a shell, in another directory, without our environment.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(["/bin/sh", "-c", command], input=json.dumps(payload), text=True,
                         capture_output=True, timeout=TIMEOUT_S, env=env, cwd="/", check=False)
    assert out.returncode == 0, out.stderr
    [batch] = Spool().pending()
    assert [r.record_type for r in Spool().read(batch).records] == ["ai_session", "edit"]


def test_status_lists_both_tools(tmp_path: Path) -> None:
    rows = _cli("hooks", "status", "--json", env={"CLAUDE_CONFIG_DIR": str(tmp_path),
                                                  "HOME": str(tmp_path)})
    assert [(r["tool"], r["installed"]) for r in rows] == [("claude-code", False),
                                                           ("cursor", False)]
    hook_install.install("cursor", tmp_path / ".cursor" / "hooks.json")
    rows = _cli("hooks", "status", "--json", env={"CLAUDE_CONFIG_DIR": str(tmp_path),
                                                  "HOME": str(tmp_path)})
    assert [r["installed"] for r in rows] == [False, True]
