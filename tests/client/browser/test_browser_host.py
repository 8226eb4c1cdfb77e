"""The real `worktally browser host` subprocess spoken to in Chrome's native-messaging wire
format, and `worktally browser install` / `uninstall` with a --user-data-dir.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from worktally.client.browser.native_host import MAX_MESSAGE_BYTES
from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.cli.browser import EXTENSION_ID, extension_dir

HOST_TIMEOUT_S = 60
ORIGIN = f"chrome-extension://{EXTENSION_ID}/"
SESSION = "5f0c9a52-8d7e-4c1b-9a33-0d2b7c6e1f48"
CANARY = "zq_canary_browser_7f3e"
CODE = (f"def {CANARY}_helper(values):\n"
        f"    total = sum(v * 2 for v in values)  # {CANARY}\n"
        "    return total\n"
        "}\n")


def frame(message: Any) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return struct.pack("<I", len(body)) + body


def replies(data: bytes) -> list[dict[str, Any]]:
    out, at = [], 0
    while at < len(data):
        (length,) = struct.unpack("<I", data[at:at + 4])
        out.append(json.loads(data[at + 4:at + 4 + length]))
        at += 4 + length
    return out


def run_host(data: bytes, command: list[str] | None = None,
             env: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], str]:
    cmd = command or [sys.executable, "-m", "worktally.client.cli", "browser", "host", ORIGIN]
    proc = subprocess.run(cmd, input=data, capture_output=True, timeout=HOST_TIMEOUT_S,
                          check=False, env=env)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return replies(proc.stdout), proc.stderr.decode(errors="replace")


def spool_records(home: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted((home / "spool" / "new").glob("*.json")):
        records.extend(json.loads(path.read_bytes())["records"])
    return records


def every_byte_under(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_messages_become_keyed_records_and_no_text_is_kept(worktally_home: Path) -> None:
    messages = [
        {"type": "prompt", "family": "chatgpt", "session": SESSION, "tokens": 17, "seq": 0},
        {"type": "copy", "family": "chatgpt", "session": SESSION, "text": CODE},
        {"type": "response", "family": "chatgpt", "session": SESSION, "tokens": 250, "seq": 1},
    ]
    got, _ = run_host(b"".join(frame(m) for m in messages))

    keyer = LineKeyer(load_or_create_secret())
    expected_keys = keyer.keys_of_text(CODE)
    assert len(expected_keys) == 3  # the lone "}" is trivial
    assert got == [{"ok": True}, {"ok": True, "keys": 3}, {"ok": True}]

    records = spool_records(worktally_home)
    session_id = f"browser-chat:{SESSION}"
    (snippet,) = [r for r in records if r["type"] == "chat_snippet"]
    assert snippet["keys"] == expected_keys
    assert (snippet["session_id"], snippet["family"]) == (session_id, "chatgpt")
    usages = sorted((r for r in records if r["type"] == "token_usage"),
                    key=lambda r: r["usage_id"])
    assert [(u["usage_id"], u["input_tokens"], u["output_tokens"], u["model"], u["tool"])
            for u in usages] == [
        (f"browser-chat:{SESSION}:0", 17, 0, "chatgpt-estimate", "browser-chat"),
        (f"browser-chat:{SESSION}:1", 0, 250, "chatgpt-estimate", "browser-chat"),
    ]
    sessions = [r for r in records if r["type"] == "ai_session"]
    assert {(s["session_id"], s["tool"], s["kind"], s["repo_id"], s["has_cwd"])
            for s in sessions} == {(session_id, "browser-chat", "chat", None, False)}
    # The copied text (and so the canary) is in no spooled byte, log or other local file.
    assert CANARY.encode() not in every_byte_under(worktally_home)


def test_bad_frames_get_an_error_and_the_host_keeps_serving(worktally_home: Path) -> None:
    good = {"type": "prompt", "family": "claude", "session": SESSION, "tokens": 3, "seq": 9}
    bad: list[Any] = [
        b"{not json",
        b"\xff\xfe\x00",
        [1, 2, 3],
        {"type": "launch", "family": "claude", "session": SESSION},
        {"type": "copy", "family": "bing", "session": SESSION, "text": CODE},
        # A "session" carrying text must not be accepted (it would be stored).
        {"type": "copy", "family": "claude", "session": f"{CANARY} /home/me/x.py",
         "text": CODE},
        {"type": "prompt", "family": "claude", "session": SESSION, "tokens": True, "seq": 1},
        {"type": "prompt", "family": "claude", "session": SESSION, "tokens": -5, "seq": 1},
        {"type": "response", "family": "claude", "session": SESSION, "tokens": 5},
        {"type": "copy", "family": "claude", "session": SESSION, "text": 42},
    ]
    got, stderr = run_host(b"".join(frame(m) for m in [*bad, good]))

    assert len(got) == len(bad) + 1
    for reply in got[:-1]:
        assert reply["ok"] is False and reply["error"]
    assert got[-1] == {"ok": True}
    records = spool_records(worktally_home)
    assert [r["type"] for r in records] == ["ai_session", "token_usage"]
    assert CANARY not in stderr
    assert CANARY.encode() not in every_byte_under(worktally_home)


def test_oversized_message_is_refused_and_skipped(worktally_home: Path) -> None:
    huge = json.dumps({"type": "copy", "family": "gemini", "session": SESSION,
                       "text": "x = 1\n" * (MAX_MESSAGE_BYTES // 6 + 10)}).encode()
    assert len(huge) > MAX_MESSAGE_BYTES
    good = {"type": "copy", "family": "gemini", "session": SESSION, "text": CODE}
    got, _ = run_host(frame(huge) + frame(good))

    assert got[0]["ok"] is False and "limit" in got[0]["error"]
    assert got[1] == {"ok": True, "keys": 3}
    assert [r["type"] for r in spool_records(worktally_home)] == ["ai_session", "chat_snippet"]


def test_a_frame_cut_short_ends_the_host_quietly(worktally_home: Path) -> None:
    good = {"type": "prompt", "family": "mistral", "session": SESSION, "tokens": 1, "seq": 0}
    got, _ = run_host(frame(good) + struct.pack("<I", 100) + b'{"type":')
    assert got == [{"ok": True}]


def test_nothing_is_recorded_while_paused(worktally_home: Path) -> None:
    worktally_home.mkdir(parents=True, exist_ok=True)
    (worktally_home / "paused").write_text("paused\n")
    got, _ = run_host(frame({"type": "copy", "family": "claude", "session": SESSION,
                             "text": CODE}))
    assert got == [{"ok": True, "paused": True}]
    assert spool_records(worktally_home) == []


def _worktally(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worktally.client.cli", *args],
                          capture_output=True, text=True, timeout=HOST_TIMEOUT_S, check=True)


def test_install_writes_a_manifest_and_a_private_wrapper_that_runs_the_host(
    worktally_home: Path, tmp_path: Path,
) -> None:
    user_data = tmp_path / "profile"
    info = json.loads(_worktally("browser", "install", "--user-data-dir", str(user_data),
                                 "--json").stdout)

    manifest_path = user_data / "NativeMessagingHosts" / "dev.worktally.host.json"
    assert Path(info["manifest"]) == manifest_path
    manifest = json.loads(manifest_path.read_text())
    wrapper = Path(manifest["path"])
    assert manifest == {
        "name": "dev.worktally.host",
        "description": manifest["description"],
        "path": str(wrapper),
        "type": "stdio",
        "allowed_origins": [ORIGIN],
    }
    assert wrapper.is_absolute() and wrapper.parent.parent == worktally_home
    assert wrapper.stat().st_mode & 0o777 == 0o700
    assert wrapper.parent.stat().st_mode & 0o777 == 0o700
    assert manifest_path.stat().st_mode & 0o777 == 0o600
    assert Path(info["extension_dir"]) == extension_dir()

    # Browsers start hosts with a bare environment: the wrapper must bring WORKTALLY_HOME.
    got, _ = run_host(
        frame({"type": "copy", "family": "perplexity", "session": SESSION, "text": CODE}),
        command=[str(wrapper), ORIGIN], env={"PATH": os.defpath},
    )
    assert got == [{"ok": True, "keys": 3}]
    assert [r["type"] for r in spool_records(worktally_home)] == ["ai_session", "chat_snippet"]

    removed = json.loads(_worktally("browser", "uninstall", "--user-data-dir", str(user_data),
                                    "--json").stdout)["removed"]
    assert sorted(removed) == sorted([str(manifest_path), str(wrapper)])
    assert not manifest_path.exists() and not wrapper.exists()


def test_install_refuses_an_unknown_browser(worktally_home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "worktally.client.cli", "browser", "install", "--browser",
         "netscape"], capture_output=True, text=True, timeout=HOST_TIMEOUT_S, check=False)
    assert proc.returncode != 0 and "netscape" in proc.stderr


def test_the_manifest_key_gives_the_extension_id_the_host_allows() -> None:
    manifest = json.loads((extension_dir() / "manifest.json").read_text())
    digest = hashlib.sha256(base64.b64decode(manifest["key"])).hexdigest()[:32]
    # Chrome spells an extension id as the first 128 bits of the key's SHA-256 in a..p.
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == EXTENSION_ID


def test_the_extension_asks_for_no_network_and_uses_none() -> None:
    manifest = json.loads((extension_dir() / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    assert manifest["permissions"] == ["nativeMessaging"]
    assert "host_permissions" not in manifest
    for script in ("background.js", "content.js"):
        source = (extension_dir() / script).read_text()
        for api in ("fetch(", "XMLHttpRequest", "WebSocket", "sendBeacon", "EventSource"):
            assert api not in source, f"{script} uses {api}"


@pytest.mark.parametrize("browser", ["chromium", "chrome"])
def test_default_host_folder_follows_xdg_config_home(
    worktally_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: str,
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the XDG folders are Linux's")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    info = json.loads(_worktally("browser", "install", "--browser", browser, "--json").stdout)
    folder = {"chromium": "chromium", "chrome": "google-chrome"}[browser]
    assert Path(info["manifest"]) == (tmp_path / "config" / folder / "NativeMessagingHosts"
                                      / "dev.worktally.host.json")
    assert Path(info["manifest"]).is_file()
