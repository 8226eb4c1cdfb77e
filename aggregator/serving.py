"""Runs the app under uvicorn with one worker, keeping tokens out of the access log.

Access-log lines drop query strings: a token pasted into a URL by mistake (pages sign in with
a form, `web_auth.py`) must not end up in the log.
"""

from __future__ import annotations

import logging

import uvicorn

from worktally.aggregator import clock
from worktally.aggregator.app import create_app
from worktally.aggregator.settings import LOOPBACK_HOSTS, DataDir

log = logging.getLogger(__name__)


class DropQueryStrings(logging.Filter):
    """Rewrites uvicorn's access-log path argument to its path without the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def run(data: DataDir, host: str, port: int, allowed_hosts: list[str], role: str | None = None,
        driver_interval: float = 5.0) -> None:
    """Serve until interrupted; on a loopback host, only loopback Host headers are accepted."""
    hosts = list(allowed_hosts)
    if not hosts and host in LOOPBACK_HOSTS:
        hosts = list(LOOPBACK_HOSTS)
    app = create_app(data, hosts or None, role=role, driver_interval=driver_interval)
    logging.getLogger("uvicorn.access").addFilter(DropQueryStrings())
    if clock.offset():
        log.warning("the clock runs %g s ahead of real time (--clock-offset): for demos and "
                    "tests only", clock.offset().total_seconds())
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info", server_header=False)
