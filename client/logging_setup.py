"""Logging for the agent and CLI: stderr plus a rotating 0600 file in the private log dir.

Log lines at INFO and above carry counts and keyed ids only, never a path, file or repo name.
"""

from __future__ import annotations

import io
import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from worktally.client import paths

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_LOG_BYTES = 1_000_000
LOG_BACKUPS = 3


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files are created 0600 (the umask could leave them 0644)."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, paths.FILE_MODE)
        stream = open(fd, "a", encoding=self.encoding or "utf-8")  # noqa: SIM115
        paths.private_file(Path(self.baseFilename))
        return stream


def configure(
    name: str = "agent", verbose: int = 0, to_file: bool = True, quiet: bool = False
) -> logging.Logger:
    """Set up the `worktally` logger; returns it. `verbose` > 0 turns on DEBUG.

    `quiet` keeps stderr to warnings (CLI commands whose stdout a script reads).
    """
    logger = logging.getLogger("worktally")
    level = logging.DEBUG if verbose > 0 else logging.INFO
    logger.setLevel(level)
    for handler in list(logger.handlers):
        # Re-configuring (tests, a restarted agent in one process) must not double lines.
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(LOG_FORMAT)
    stderr = logging.StreamHandler()
    stderr.setFormatter(formatter)
    if quiet and verbose <= 0:
        stderr.setLevel(logging.WARNING)
    logger.addHandler(stderr)
    if to_file:
        target = paths.log_dir() / f"{name}.log"
        file_handler = PrivateRotatingFileHandler(
            target, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    logger.propagate = False
    return logger
