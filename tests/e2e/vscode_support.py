"""code-server for the VS Code end-to-end test: where .ci/install-code-server put it, a .vsix
packed from a folder, and one server per test, started in its own session and stopped by pid
with a check that nothing it started outlives it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

# Keep in step with .ci/install-code-server: 4.100.3 is VS Code 1.100.3, the last code-server
# whose engine accepts Node 20.
CODE_SERVER_VERSION = "4.100.3"
INSTALL_TIMEOUT_S = 180
START_DEADLINE_S = 60
STOP_GRACE_S = 15
POLL_S = 0.1

T = TypeVar("T")


def code_server_dir() -> Path:
    """The install folder: $WORKTALLY_CODE_SERVER_DIR, else ~/.cache/worktally-ci/..."""
    configured = os.environ.get("WORKTALLY_CODE_SERVER_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "worktally-ci" / "code-server" / CODE_SERVER_VERSION


def find_code_server() -> Path | None:
    """The code-server launcher of a complete install, or None."""
    folder = code_server_dir()
    launcher = folder / "node_modules" / ".bin" / "code-server"
    if (folder / ".complete").is_file() and os.access(launcher, os.X_OK):
        return launcher
    return None


def wait_until(check: Callable[[], T | None], timeout_s: float, what: str,
               detail: Callable[[], str] = lambda: "") -> T:
    """Poll `check` until it returns something other than None/False; fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}. "
                                 f"{detail()}")
        time.sleep(POLL_S)


def pack_vsix(folder: Path, out: Path) -> Path:
    """Zip an extension folder as a .vsix: code-server reads `extension/package.json` and
    unpacks `extension/`; the two XML files make it a valid VSIX package."""
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    identity = f'{manifest["publisher"]}.{manifest["name"]}'
    vsix_manifest = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/'
        'vsx-schema/2011"><Metadata>'
        f'<Identity Language="en-US" Id="{manifest["name"]}" Version="{manifest["version"]}" '
        f'Publisher="{manifest["publisher"]}"/><DisplayName>{identity}</DisplayName>'
        '</Metadata><Installation><InstallationTarget Id="Microsoft.VisualStudio.Code"/>'
        '</Installation><Dependencies/><Assets><Asset Type="Microsoft.VisualStudio.Code.Manifest"'
        ' Path="extension/package.json" Addressable="true"/></Assets></PackageManifest>\n'
    )
    content_types = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension=".json" ContentType="application/json"/>'
        '<Default Extension=".js" ContentType="application/javascript"/>'
        '<Default Extension=".vsixmanifest" ContentType="text/xml"/></Types>\n'
    )
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("extension.vsixmanifest", vsix_manifest)
        archive.writestr("[Content_Types].xml", content_types)
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"extension/{path.relative_to(folder).as_posix()}")
    return out


@dataclass(frozen=True)
class CodeServerDirs:
    """Everything code-server writes, kept in one temporary folder."""

    root: Path

    @property
    def user_data(self) -> Path:
        return self.root / "user-data"

    @property
    def extensions(self) -> Path:
        return self.root / "extensions"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    def env(self) -> dict[str, str]:
        """XDG folders inside root: code-server also writes under ~/.config, ~/.local/share
        and ~/.cache otherwise."""
        return {f"XDG_{kind}_HOME": str(self.root / "xdg" / kind.lower())
                for kind in ("CONFIG", "DATA", "CACHE", "STATE")}

    def write_settings(self, settings: dict[str, object]) -> None:
        user = self.user_data / "User"
        user.mkdir(parents=True, exist_ok=True)
        (user / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
        # The flags say the same; the file keeps code-server from writing a password into
        # the real ~/.config/code-server/config.yaml.
        self.config.write_text("bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n",
                               encoding="utf-8")


def install_extension(launcher: Path, dirs: CodeServerDirs, vsix: Path,
                      env: dict[str, str]) -> None:
    proc = subprocess.run(
        [str(launcher), "--config", str(dirs.config), "--user-data-dir", str(dirs.user_data),
         "--extensions-dir", str(dirs.extensions), "--install-extension", str(vsix), "--force"],
        env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False,
    )
    assert proc.returncode == 0 and "successfully installed" in proc.stdout, (
        f"code-server could not install {vsix.name} ({proc.returncode}): "
        f"{proc.stdout[-1500:]} {proc.stderr[-1500:]}")


def session_processes(sid: int) -> list[tuple[int, str]]:
    """Processes of session `sid` (pid, command line): code-server and all it started."""
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except OSError:
            continue  # gone meanwhile
        # Field 6 (session id) follows the command name, which may hold spaces: split after ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append((int(entry.name), cmdline))
    return found


class CodeServer:
    """One code-server in its own session (so everything it spawns is findable by sid)."""

    def __init__(self, launcher: Path, dirs: CodeServerDirs, folder: Path,
                 env: dict[str, str], log: Path, proposed_api: tuple[str, ...] = ()) -> None:
        self.log = log
        self._log_file = log.open("wb")
        proposed = [arg for ext in proposed_api for arg in ("--enable-proposed-api", ext)]
        self.proc = subprocess.Popen(
            [str(launcher), "--config", str(dirs.config), "--auth", "none",
             "--bind-addr", "127.0.0.1:0", "--disable-telemetry", "--disable-update-check",
             "--disable-workspace-trust", "--user-data-dir", str(dirs.user_data),
             "--extensions-dir", str(dirs.extensions), *proposed, str(folder)],
            env=env, stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.url = wait_until(self._listening, START_DEADLINE_S,
                              "code-server to listen", self.tail)

    def _listening(self) -> str | None:
        assert self.proc.poll() is None, f"code-server exited: {self.tail()}"
        match = re.search(r"HTTP server listening on (http://127\.0\.0\.1:\d+/)",
                          self.log.read_text(errors="replace"))
        return match.group(1) if match else None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> list[tuple[int, str]]:
        """SIGTERM code-server by pid, then wait for its whole session to end.

        Returns the processes that had to be killed after the grace period (a leak); those
        are gone when this returns.
        """
        sid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_GRACE_S)
        deadline = time.monotonic() + STOP_GRACE_S
        while session_processes(sid) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        leaked = session_processes(sid)
        for pid, _ in leaked:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not session_processes(sid), STOP_GRACE_S,
                   "killed leftovers to exit")
        self._log_file.close()
        return leaked
