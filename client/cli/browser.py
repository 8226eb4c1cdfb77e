"""Commands of the `worktally` CLI for the browser extension: install and uninstall its
native-messaging host, and `browser host`, the process the browser starts for each message.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

import worktally.client
from worktally.client import logging_setup, paths
from worktally.client.browser.native_host import HOST_NAME
from worktally.client.cli.output import echo_json, json_option
from worktally.client.errors import WorktallyError

# Fixed by the `key` in client/browser/manifest.json (a test checks they agree), so the host
# manifest can name the only extension allowed to start the host.
EXTENSION_ID = "kiieedkbflfeegbcljbpacgghchkaogo"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}/"
WRAPPER_NAME = "worktally-browser-host"
BROWSERS = ("chromium", "chrome")
# The wrapper is a program only its owner may read or run.
WRAPPER_MODE = 0o700

browser_option = click.option("--browser", type=click.Choice(BROWSERS), default="chromium",
                              show_default=True, help="Which browser's host folder to use.")
user_data_option = click.option(
    "--user-data-dir", type=click.Path(file_okay=False, path_type=Path),
    help="The browser's --user-data-dir, when it runs with one (tests, separate profiles).")


class BrowserInstallError(WorktallyError):
    """The native-messaging host cannot be installed for this platform or browser."""


def extension_dir() -> Path:
    """The unpacked extension shipped inside the package (load it from chrome://extensions)."""
    return Path(worktally.client.__file__).resolve().parent / "browser" / "extension"


def hosts_dir(browser: str, user_data_dir: Path | None) -> Path:
    """Where this browser looks for per-user native-messaging host manifests."""
    if user_data_dir is not None:
        return user_data_dir.resolve() / "NativeMessagingHosts"
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
        folder = base / ("Chromium" if browser == "chromium" else "Google/Chrome")
    elif sys.platform.startswith("linux"):
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        folder = config / ("chromium" if browser == "chromium" else "google-chrome")
    else:
        raise BrowserInstallError(
            "native-messaging hosts are installed through the registry on this platform, "
            "which worktally does not do yet; use Linux or macOS")
    return folder / "NativeMessagingHosts"


def wrapper_path() -> Path:
    return paths.ensure_private_dir(paths.home() / "browser") / WRAPPER_NAME


def wrapper_script() -> str:
    """A shell script that runs this Python's host with this WORKTALLY_HOME.

    Browsers start hosts with a bare environment, so both are written in, not inherited.
    """
    home = shlex.quote(str(paths.home()))
    python = shlex.quote(sys.executable)
    return (
        "#!/bin/sh\n"
        "# Written by `worktally browser install`; the browser runs it for each message.\n"
        f"WORKTALLY_HOME={home}\n"
        "export WORKTALLY_HOME\n"
        f'exec {python} -m worktally.client.cli browser host "$@"\n'
    )


def host_manifest(wrapper: Path) -> dict[str, Any]:
    return {
        "name": HOST_NAME,
        "description": "worktally: records line keys of code copied from AI chats",
        "path": str(wrapper),
        "type": "stdio",
        "allowed_origins": [EXTENSION_ORIGIN],
    }


def install_host(browser: str, user_data_dir: Path | None) -> dict[str, Any]:
    wrapper = wrapper_path()
    paths.write_private(wrapper, wrapper_script().encode())
    wrapper.chmod(WRAPPER_MODE)
    target_dir = hosts_dir(browser, user_data_dir)
    # The folder is the browser's: create it private when missing, leave it alone otherwise.
    old = os.umask(0o077)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    manifest = target_dir / f"{HOST_NAME}.json"
    body = json.dumps(host_manifest(wrapper), indent=2) + "\n"
    paths.write_private(manifest, body.encode())
    return {
        "browser": browser,
        "host_name": HOST_NAME,
        "manifest": str(manifest),
        "wrapper": str(wrapper),
        "extension_id": EXTENSION_ID,
        "extension_dir": str(extension_dir()),
    }


@click.group("browser")
def browser_group() -> None:
    """Link code copied from AI chats in the browser to what you paste and commit."""


@browser_group.command("install")
@browser_option
@user_data_option
@json_option
def install(browser: str, user_data_dir: Path | None, as_json: bool) -> None:
    """Install the native-messaging host the worktally extension talks to."""
    data = install_host(browser, user_data_dir)
    if as_json:
        echo_json(data)
        return
    click.echo(f"native-messaging host installed: {data['manifest']}")
    click.echo("Now load the extension: open chrome://extensions, turn on Developer mode, "
               f"click 'Load unpacked' and choose {data['extension_dir']}")


@browser_group.command("uninstall")
@browser_option
@user_data_option
@json_option
def uninstall(browser: str, user_data_dir: Path | None, as_json: bool) -> None:
    """Remove the native-messaging host (remove the extension in the browser yourself)."""
    removed = []
    for path in (hosts_dir(browser, user_data_dir) / f"{HOST_NAME}.json", wrapper_path()):
        if path.exists():
            path.unlink()
            removed.append(str(path))
    if as_json:
        echo_json({"removed": removed})
    else:
        click.echo("\n".join(f"removed {p}" for p in removed) or "nothing to remove")


@browser_group.command("host", context_settings={"ignore_unknown_options": True})
@click.argument("browser_args", nargs=-1, type=click.UNPROCESSED)
def host(browser_args: tuple[str, ...]) -> None:
    """Serve the extension over stdin/stdout (the browser runs this; BROWSER_ARGS is its
    caller's origin, which the host manifest already restricts)."""
    from worktally.client.browser.native_host import BrowserHost, serve
    from worktally.client.capture.line_keys import default_keyer
    from worktally.client.capture.spool import Spool

    # stdout is the message channel: logs go to stderr (warnings) and the private log file.
    logging_setup.configure("browser-host", quiet=True)
    serve(sys.stdin.buffer, sys.stdout.buffer, BrowserHost(default_keyer(), Spool()))


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(browser_group)
