"""Starting `worktally lsp`: logging to stderr or a private file, then the server over stdio.

stdout is the protocol channel, so the real stdout is handed to pygls and `sys.stdout` is
pointed at stderr: a stray print can never corrupt the stream.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from worktally.client import paths

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _level(verbosity: int) -> int:
    if verbosity >= 2:
        return logging.DEBUG
    return logging.INFO if verbosity == 1 else logging.WARNING


def configure_logging(log_file: Path | None, verbosity: int) -> None:
    """worktally's own loggers follow -v; pygls's stay at WARNING below -vv.

    pygls logs whole messages (workspace paths, document text) at INFO and DEBUG, and
    no path may reach a log at INFO or above.
    """
    if log_file is not None:
        paths.ensure_private_dir(log_file.parent)
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, paths.FILE_MODE)
        handler: logging.Handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("worktally").setLevel(_level(verbosity))
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def serve(log_file: Path | None = None, verbosity: int = 0) -> None:
    """Run the language server on stdin/stdout until the editor says exit."""
    configure_logging(log_file, verbosity)
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr

    from worktally.lsp.server import create_server

    create_server().start_io(sys.stdin.buffer, protocol_out)
