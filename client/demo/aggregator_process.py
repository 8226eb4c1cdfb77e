"""The demo's org side: a real `worktally-aggregator` set up by its CLI and served on loopback.

Set-up and the offline dashboard run as CLI subprocesses (the database is free then); while
`serve` runs, releases, the summary and the privacy review go through its HTTP API.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from worktally.client import paths
from worktally.client.errors import WorktallyError

CLI_TIMEOUT_S = 120.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 60.0
AGGREGATOR_CLI = (sys.executable, "-m", "worktally.aggregator.cli")


class AggregatorStepError(WorktallyError):
    """An aggregator command or request failed."""


@dataclass(frozen=True)
class Deployment:
    data: Path
    admin_token: str
    officer_token: str
    enrollment_tokens: dict[str, str]


def free_port() -> int:
    """A port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "WORKTALLY_HOME": str(home), "NO_PROXY": "127.0.0.1,localhost"}


def run_cli(args: list[str], home: Path, what: str) -> str:
    """Run one `worktally-aggregator` command; its stdout, or an error naming the step."""
    try:
        out = subprocess.run([*AGGREGATOR_CLI, *args], capture_output=True, text=True,
                             timeout=CLI_TIMEOUT_S, env=_env(home), check=False)
    except subprocess.TimeoutExpired as exc:
        raise AggregatorStepError(f"{what}: no answer within {CLI_TIMEOUT_S:.0f}s") from exc
    if out.returncode != 0:
        raise AggregatorStepError(f"{what} failed: {out.stderr.strip()[-500:]}")
    return out.stdout


def set_up(root: Path, cohorts: dict[str, int], k_min: int,
           min_contributors: int) -> Deployment:
    """`init` and one `cohort add` per cohort; returns the tokens they print once."""
    data = root / "aggregator"
    home = root / "aggregator-home"
    paths.ensure_private_dir(home)
    created = json.loads(run_cli(
        ["init", "--data", str(data), "--k", str(k_min), "--min-contributors",
         str(min_contributors), "--json"], home, "worktally-aggregator init"))
    tokens = {}
    for name, roster in cohorts.items():
        added = json.loads(run_cli(
            ["cohort", "add", name, "--data", str(data), "--roster", str(roster), "--json"],
            home, f"worktally-aggregator cohort add {name}"))
        tokens[name] = str(added["enrollment_token"])
    return Deployment(data, str(created["admin_token"]), str(created["officer_token"]), tokens)


def write_dashboard(deployment: Deployment, out_file: Path) -> Path:
    """`worktally-aggregator dashboard --out` (run with the server stopped)."""
    run_cli(["dashboard", "--data", str(deployment.data), "--out", str(out_file)],
            deployment.data.parent / "aggregator-home", "worktally-aggregator dashboard")
    return out_file


class AggregatorServer:
    """`worktally-aggregator serve` on 127.0.0.1; always stopped by `stop()` or `with`."""

    def __init__(self, deployment: Deployment, port: int | None = None) -> None:
        self.deployment = deployment
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = deployment.data.parent / "aggregator-serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AggregatorServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        home = self.deployment.data.parent / "aggregator-home"
        # A file, not a pipe: a full pipe would block the server.
        with self.log_path.open("wb") as sink:
            self.process = subprocess.Popen(
                [*AGGREGATOR_CLI, "serve", "--data", str(self.deployment.data),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=sink, stderr=sink, env=_env(home))
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AggregatorStepError(
                    f"worktally-aggregator serve exited with {self.process.returncode}; see "
                    f"{self.log_path}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass  # not listening yet; poll again until the deadline
            time.sleep(0.1)
        self.stop()
        raise AggregatorStepError(f"the aggregator did not answer within {START_TIMEOUT_S:.0f}s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    def _call(self, method: str, path: str, token: str, what: str,
              body: dict[str, Any] | None = None) -> Any:
        try:
            response = httpx.request(method, f"{self.url}{path}", json=body,
                                     headers={"Authorization": f"Bearer {token}"},
                                     timeout=HTTP_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise AggregatorStepError(f"{what}: {exc}") from exc
        if response.status_code >= 400:
            raise AggregatorStepError(f"{what} refused ({response.status_code}): "
                                      f"{response.text[:300]}")
        return response.json()

    def release(self, cohort: str, period: str) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/admin/releases", self.deployment.admin_token,
                               f"release {cohort} {period}",
                               {"cohort": cohort, "period": period}))

    def summary(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/admin/summary", self.deployment.admin_token,
                               "admin summary"))

    def review(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/privacy/review", self.deployment.officer_token,
                               "privacy review"))
