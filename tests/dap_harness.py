"""Two real aggregators on loopback (a leader and a helper, each a uvicorn subprocess), a
secure cohort provisioned through the real code paths, and real enrolled clients.

Provisioning follows the operators' steps: init both data dirs; start the helper; the
leader's `create_task` fetches the helper's HPKE config over HTTP; the helper's admin accepts
the task file with `PUT /v1/admin/tasks`; then the leader starts.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worktally.aggregator.dap.batches import Bucket, bucket
from worktally.aggregator.dap.model import model_for
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import create_task, load_task, task_file
from worktally.aggregator.enrollment import issue_tokens
from worktally.aggregator.provisioning import init_data_dir, open_store
from worktally.aggregator.settings import DataDir, ReleasePolicy
from worktally.client.wire.dap import b64url, from_b64url
from worktally.client.wire.dap.client import build_report, upload_headers
from worktally.client.wire.dap.messages import HpkeConfigList
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.dap.window import last_ended

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 30.0
# The last quarter that has ended: open for reports, and collectable.
WINDOW = last_ended("quarter", dt.datetime.now(dt.UTC))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class DapServer:
    """One aggregator process; `start()` again after `stop()` or `kill()` restarts it.

    It runs the test launcher (dap_server.py, with its noise and gate seams), or with `cli`
    the real `worktally-aggregator serve`; `extra` are that program's options."""

    role: str
    data: DataDir
    port: int
    home: Path
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    cli: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.home / f"{self.role}.log"

    def start(self) -> DapServer:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "WORKTALLY_HOME": str(self.home), "NO_PROXY": "127.0.0.1"}
        with self.log.open("ab") as sink:
            program = (["-m", "worktally.aggregator.cli", "serve"] if self.cli
                       else [str(HERE / "dap_server.py")])
            self.process = subprocess.Popen(
                [sys.executable, *program, "--data", str(self.data.root),
                 "--port", str(self.port), "--role", self.role, *self.extra],
                env=env, stdout=sink, stderr=sink)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.role} exited early: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)  # polling interval; the deadline bounds the wait
        self.stop()
        raise RuntimeError(f"{self.role} did not answer within the deadline")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def kill(self) -> None:
        """A crash: SIGKILL, no shutdown hooks."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


@dataclass
class Secure:
    """A provisioned pair and its cohort's task."""

    leader: DapServer
    helper: DapServer
    task: TaskConfig
    admin: str
    officer: str
    helper_admin: str
    tokens: list[str]
    noise_log: Path
    task_file: dict[str, Any] = field(default_factory=dict)  # secrets: the leader's token

    @property
    def leader_token(self) -> str:
        return str(self.task_file["leader_auth_token"])

    def noise_draws(self) -> int:
        return len(self.noise_log.read_text().splitlines()) if self.noise_log.exists() else 0

    def stop(self) -> None:
        self.leader.stop()
        self.helper.stop()


def provision(root: Path, *, roster: int = 16, k_min: int = 10, noise_copies: int = 1,
              noise: str = "zeros", tokens: int | None = None, cohort: str = "team",
              leader_extra: list[str] | None = None,
              helper_extra: list[str] | None = None, cli: bool = False) -> Secure:
    """Provision a pair; with `cli` both run the real `serve` (OpenDP noise, no seams)."""
    leader_data, helper_data = DataDir(root / "leader"), DataDir(root / "helper")
    leader_dep = init_data_dir(leader_data, ReleasePolicy(), role="leader")
    helper_dep = init_data_dir(helper_data, ReleasePolicy(), role="helper")
    noise_log = root / "noise.log"
    common = (["--driver-interval", "0"] if cli
              else ["--noise", noise, "--noise-log", str(noise_log)])
    helper = DapServer("helper", helper_data, free_port(), root / "helper-home",
                       common + (helper_extra or []), cli=cli).start()
    leader = DapServer("leader", leader_data, free_port(), root / "leader-home",
                       common + (leader_extra or []), cli=cli)
    store = open_store(leader_data)
    peer = HelperClient(timeout=HTTP_TIMEOUT_S)
    try:
        task = create_task(store, leader_data, cohort=cohort, roster=roster,
                           leader_url=leader.url, helper_url=helper.url,
                           helper_hpke=peer.hpke_config(helper.url), noise_copies=noise_copies,
                           k_min=k_min)
        issued = issue_tokens(store, cohort, tokens if tokens is not None else roster)
        file = task_file(task)
    finally:
        peer.close()
        store.close()
    # A test's small k is said out loud to the helper (its default minimum is 10).
    accepted = httpx.put(f"{helper.url}/v1/admin/tasks", json=file, timeout=HTTP_TIMEOUT_S,
                         headers=bearer(helper_dep.admin_token),
                         params={"min_k": min(k_min, 10)})
    assert accepted.status_code == 201, accepted.text
    leader.start()
    return Secure(leader, helper, task.config, leader_dep.admin_token, leader_dep.officer_token,
                  helper_dep.admin_token, [t.token for t in issued], noise_log, file)


@dataclass(frozen=True)
class SecureClient:
    """An enrolled client: its key, and the task and HPKE configs enrollment gave it."""

    client_id: str
    slot: int
    key: Ed25519PrivateKey
    task: TaskConfig
    leader_hpke: HpkeConfigList
    helper_hpke: HpkeConfigList

    def report(self, measurement: list[int], window: str = WINDOW) -> tuple[bytes, bytes]:
        return build_report(self.task, measurement, self.leader_hpke, self.helper_hpke,
                            window=window)

    def upload(self, leader_url: str, body: bytes) -> httpx.Response:
        headers = upload_headers(self.client_id, self.key, self.task.task_id, body)
        return httpx.post(f"{leader_url}/tasks/{b64url(self.task.task_id)}/reports",
                          content=body, headers=headers, timeout=HTTP_TIMEOUT_S)


def enroll(secure: Secure, token: str, key: Ed25519PrivateKey | None = None) -> httpx.Response:
    key = key or Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return httpx.post(f"{secure.leader.url}/v1/enroll", timeout=HTTP_TIMEOUT_S,
                      json={"token": token, "public_key": base64.b64encode(raw).decode()})


def enroll_client(secure: Secure, token: str) -> SecureClient:
    key = Ed25519PrivateKey.generate()
    response = enroll(secure, token, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "secure"
    config = TaskConfig.decode(_b64(body["task_config"]))
    assert b64url(config.task_id) == body["task_id"]
    # A careful client checks the helper's keys with the helper itself (the leader's copy
    # may lag a rotation, but holds only keys the helper publishes) and uses the helper's.
    helper = HpkeConfigList.decode(httpx.get(f"{config.helper_url}/hpke_config",
                                             timeout=HTTP_TIMEOUT_S).content)
    offered = HpkeConfigList.decode(_b64(body["helper_hpke_configs"])).configs
    assert set(offered) <= set(helper.configs)
    return SecureClient(body["client_id"], body["slot"], key, config,
                        HpkeConfigList.decode(_b64(body["leader_hpke_configs"])), helper)


def enroll_all(secure: Secure, count: int) -> list[SecureClient]:
    return [enroll_client(secure, token) for token in secure.tokens[:count]]


def measurement(i: int) -> list[int]:
    """A valid schema-2 vector, distinct per i: flags gate their shares."""
    active, observed = int(i % 4 != 3), int(i % 5 != 4)
    return [active, (37 * i) % 1001 * active, (11 * i) % 1001 * active, observed,
            (53 * i) % 1001 * observed, (97 * i) % 5001, (13 * i) % 501, (7 * i) % 501]


def truth(vectors: list[list[int]]) -> list[int]:
    return [sum(col) for col in zip(*vectors, strict=True)] if vectors else [0] * 8


def admin_post(secure: Secure, path: str, json: Any = None) -> httpx.Response:
    return httpx.post(f"{secure.leader.url}{path}", json=json, headers=bearer(secure.admin),
                      timeout=HTTP_TIMEOUT_S)


def aggregate_now(secure: Secure) -> dict[str, Any]:
    response = admin_post(secure, "/v1/admin/aggregate")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def release(secure: Secure, window: str = WINDOW) -> httpx.Response:
    return admin_post(secure, "/v1/admin/releases", {"cohort": secure.task.cohort,
                                                     "period": window})


def stored_buckets(secure: Secure, window: str = WINDOW) -> tuple[Bucket, Bucket]:
    """Both aggregators' stored batch buckets (their servers must be stopped)."""
    out = []
    for server in (secure.leader, secure.helper):
        store = open_store(server.data)
        try:
            task = load_task(store, secure.task.task_id)
            with store.transaction() as con:
                out.append(bucket(con, task.config.vdaf(), task.task_id, window))
        finally:
            store.close()
    return out[0], out[1]


def combined(secure: Secure, window: str = WINDOW) -> tuple[list[int], int]:
    """Leader share + helper share (mod p) as stored, and the report count they agree on."""
    leader, helper = stored_buckets(secure, window)
    assert leader.report_count == helper.report_count
    assert leader.checksum == helper.checksum
    assert leader.agg_share is not None and helper.agg_share is not None
    vdaf = secure.task.vdaf()
    total = vdaf.unshard(None, [leader.agg_share, helper.agg_share], leader.report_count,
                         signed=True)
    return list(total), leader.report_count


def schema_names() -> list[str]:
    return [m.name for m in model_for(2).metrics]


def _b64(text: str) -> bytes:
    return from_b64url(text, len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))),
                       "field")
