"""Where worktally keeps local state, and how it keeps it private (0700 dirs, 0600 files)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "WORKTALLY_HOME"
DIR_MODE = 0o700
FILE_MODE = 0o600


def home() -> Path:
    """The state directory: $WORKTALLY_HOME, else the platform's user data dir."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        base = Path(configured)
    else:
        # Imported here: the hook command runs with WORKTALLY_HOME set by its installer
        # and must not pay for platformdirs on every edit.
        import platformdirs

        base = Path(platformdirs.user_data_dir("worktally"))
    return ensure_private_dir(base)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and force it to 0700."""
    # umask would otherwise leave freshly made parents group-readable.
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    if (path.stat().st_mode & 0o777) != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Atomically write `data` to `path` as a 0600 file (tmp, fsync, rename)."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def private_file(path: Path) -> Path:
    """Make sure an existing file is 0600 (DuckDB creates its files with the umask)."""
    if path.exists() and (path.stat().st_mode & 0o777) != FILE_MODE:
        path.chmod(FILE_MODE)
    return path


def db_path() -> Path:
    return home() / "worktally.duckdb"


def spool_dir() -> Path:
    return ensure_private_dir(home() / "spool")


def log_dir() -> Path:
    return ensure_private_dir(home() / "logs")


def secret_path() -> Path:
    return home() / "line-key.secret"


def config_path() -> Path:
    return home() / "config.toml"


def repos_path() -> Path:
    return home() / "repos.json"


def lock_path() -> Path:
    return home() / "agent.lock"


def socket_path() -> Path:
    return home() / "agent.sock"


def paused_flag() -> Path:
    return home() / "paused"


def last_sync_path() -> Path:
    """When the last full sync finished (ISO time), whoever ran it: agent or CLI."""
    return home() / "last-sync"
