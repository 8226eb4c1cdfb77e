"""Where worktally keeps local state, and how it keeps it private (0700 dirs, 0600 files)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "WORKTALLY_HOME"
DIR_MODE = 0o700
FILE_MODE = 0o600


def home() -> Path:
    """The state directory: $WORKTALLY_HOME, else the platform's user data dir."""
    return ensure_private_dir(_home_base())


def _home_base() -> Path:
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured)
    # Imported here: the hook command runs with WORKTALLY_HOME set by its installer and must
    # not pay for platformdirs on every edit.
    import platformdirs

    return Path(platformdirs.user_data_dir("worktally"))


def _is_own(path: Path) -> bool:
    """Whether `path` is WORKTALLY_HOME or inside it: a folder worktally may make private."""
    try:
        path.resolve().relative_to(_home_base().resolve())
    except ValueError:
        return False
    return True


def ensure_private_dir(path: Path, *, owned: bool = False) -> Path:
    """Create `path` and any missing parents as 0700 folders.

    A folder that already exists is forced to 0700 only when it is worktally's own: inside
    WORKTALLY_HOME, or `owned` (an aggregator's data dir). Any other existing folder (the
    folder an output file goes to, /tmp) keeps its mode: chmod-ing it would lock others out
    of a shared folder.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    # umask would otherwise leave freshly made parents group-readable.
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    for made in missing:
        _force_mode(made)
    if path not in missing and (owned or _is_own(path)):
        _force_mode(path)
    return path


def _force_mode(path: Path) -> None:
    if path.is_dir() and not path.is_symlink() and (path.stat().st_mode & 0o777) != DIR_MODE:
        path.chmod(DIR_MODE)


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
