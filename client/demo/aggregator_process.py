"""The demo's org side: a leader and a helper, both real `worktally-aggregator` processes on
loopback, set up through their CLIs and HTTP APIs exactly as docs/admin.md describes.

The org runs the leader (and holds the collector key); the helper stands for the privacy
office. Each secure cohort is a task the leader proposes and the helper accepts. The demo
simulates the end of the release window: both servers run with a clock offset that puts
them just past the end of the current window (`serve --clock-offset`), so the window the
developers report on today can be released today.
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
HTTP_TIMEOUT_S = 120.0
AGGREGATOR_CLI = (sys.executable, "-m", "worktally.aggregator.cli")


class AggregatorStepError(WorktallyError):
    """An aggregator command or request failed."""


@dataclass(frozen=True)
class Deployment:
    """Both aggregators' folders, the tokens `init` printed once, and each person's token."""

    root: Path
    leader_data: Path
    helper_data: Path
    leader_port: int
    helper_port: int
    admin_token: str
    officer_token: str
    helper_admin_token: str
    enrollment_tokens: dict[str, list[str]]
    clock_offset_s: int

    @property
    def leader_url(self) -> str:
        return f"http://127.0.0.1:{self.leader_port}"

    @property
    def helper_url(self) -> str:
        return f"http://127.0.0.1:{self.helper_port}"


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


def call(method: str, url: str, token: str, what: str,
         body: dict[str, Any] | None = None) -> Any:
    """One JSON request to an aggregator's API with a bearer token; errors name the step."""
    try:
        response = httpx.request(method, url, json=body, timeout=HTTP_TIMEOUT_S,
                                 headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise AggregatorStepError(f"{what}: {exc}") from exc
    if response.status_code >= 400:
        raise AggregatorStepError(f"{what} refused ({response.status_code}): "
                                  f"{response.text[:300]}")
    return response.json()


class AggregatorServer:
    """`worktally-aggregator serve` on 127.0.0.1; always stopped by `stop()` or `with`."""

    def __init__(self, role: str, data: Path, port: int, clock_offset_s: int) -> None:
        self.role, self.data, self.port = role, data, port
        self.clock_offset_s = clock_offset_s
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = data.parent / f"{role}-serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AggregatorServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> AggregatorServer:
        home = self.data.parent / f"{self.role}-home"
        paths.ensure_private_dir(home)
        # A file, not a pipe: a full pipe would block the server.
        with self.log_path.open("wb") as sink:
            self.process = subprocess.Popen(
                [*AGGREGATOR_CLI, "serve", "--data", str(self.data), "--role", self.role,
                 "--host", "127.0.0.1", "--port", str(self.port),
                 "--clock-offset", str(self.clock_offset_s)],
                stdout=sink, stderr=sink, env=_env(home))
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AggregatorStepError(
                    f"the {self.role} exited with {self.process.returncode}; see "
                    f"{self.log_path}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass  # not listening yet; poll again until the deadline
            time.sleep(0.1)
        self.stop()
        raise AggregatorStepError(f"the {self.role} did not answer within "
                                  f"{START_TIMEOUT_S:.0f}s")

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


def set_up(root: Path, cohorts: dict[str, int], k_min: int, window_kind: str,
           clock_offset_s: int, leader_port: int | None = None
           ) -> tuple[Deployment, AggregatorServer]:
    """Both data dirs, a started helper and one accepted task per cohort. Returns the
    deployment and the running helper (the leader starts later, then `issue_tokens`)."""
    leader_data, helper_data = root / "leader", root / "helper"
    home = root / "org-home"
    paths.ensure_private_dir(home)
    leader = json.loads(run_cli(["init", "--data", str(leader_data), "--role", "leader",
                                 "--k", str(k_min), "--json"], home, "init the leader"))
    helper_init = json.loads(run_cli(["init", "--data", str(helper_data), "--role", "helper",
                                      "--json"], home, "init the helper"))
    leader_port, helper_port = leader_port or free_port(), free_port()
    helper = AggregatorServer("helper", helper_data, helper_port, clock_offset_s).start()
    deployment = Deployment(root, leader_data, helper_data, leader_port, helper_port,
                            str(leader["admin_token"]), str(leader["officer_token"]),
                            str(helper_init["admin_token"]), {}, clock_offset_s)
    try:
        for name, roster in cohorts.items():
            task_path = root / f"{name}.task.json"
            run_cli(["cohort", "add", name, "--data", str(leader_data), "--roster",
                     str(roster), "--helper-url", deployment.helper_url, "--leader-url",
                     deployment.leader_url, "--window", window_kind, "--k", str(k_min),
                     "--task-file", str(task_path), "--json"], home, f"propose task {name}")
            # The helper's operator reviews the task file and accepts it over its admin API
            # (a small test demo's k is below the default minimum, so it is said out loud).
            task = json.loads(task_path.read_text(encoding="utf-8"))
            call("PUT", f"{deployment.helper_url}/v1/admin/tasks?min_k={min(k_min, 10)}",
                 deployment.helper_admin_token, f"helper accepts task {name}", task)
    except WorktallyError:
        helper.stop()
        raise
    return deployment, helper


def issue_tokens(deployment: Deployment, cohorts: dict[str, int]) -> None:
    """One personal enrollment token per roster slot, from the running leader's admin API
    (so they expire by the leader's clock)."""
    for name, roster in cohorts.items():
        issued = call("POST", f"{deployment.leader_url}/v1/admin/tokens",
                      deployment.admin_token, f"issue tokens for {name}",
                      {"cohort": name, "count": roster})
        deployment.enrollment_tokens[name] = [str(t["token"]) for t in issued]


def write_dashboard(deployment: Deployment, out_file: Path) -> Path:
    """`worktally-aggregator dashboard --out` (run with the leader stopped)."""
    run_cli(["dashboard", "--data", str(deployment.leader_data), "--out", str(out_file)],
            deployment.root / "org-home", "worktally-aggregator dashboard")
    return out_file


def leader_server(deployment: Deployment) -> AggregatorServer:
    return AggregatorServer("leader", deployment.leader_data, deployment.leader_port,
                            deployment.clock_offset_s)


def release(deployment: Deployment, cohort: str, window: str) -> dict[str, Any]:
    return dict(call("POST", f"{deployment.leader_url}/v1/admin/releases",
                     deployment.admin_token, f"release {cohort} {window}",
                     {"cohort": cohort, "period": window}))


def summary(deployment: Deployment) -> dict[str, Any]:
    return dict(call("GET", f"{deployment.leader_url}/v1/admin/summary",
                     deployment.admin_token, "admin summary"))


def review(deployment: Deployment) -> dict[str, Any]:
    return dict(call("GET", f"{deployment.leader_url}/v1/privacy/review",
                     deployment.officer_token, "privacy review"))
