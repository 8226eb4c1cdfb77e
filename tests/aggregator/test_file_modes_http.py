"""Every file an aggregator makes is 0600 and every folder 0700, whatever the umask it was
started with: the database, its WAL (created later, while serving), keys and task files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aggregator_harness import (
    enroll_client,
    make_deployment,
    post_report,
    start_server,
    values,
)
from dap_harness import aggregate_now, enroll_all, measurement, provision

pytestmark = pytest.mark.slow


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def loose(root: Path) -> list[str]:
    """Everything under `root` that is not 0600 (files) or 0700 (folders)."""
    out = []
    for path in [root, *root.rglob("*")]:
        want = 0o700 if path.is_dir() else 0o600
        got = stat.S_IMODE(path.stat().st_mode)
        if got != want:
            out.append(f"{path.relative_to(root.parent)} {got:o}")
    return out


def test_a_local_mode_server_keeps_its_files_private(tmp_path: Path) -> None:
    with umask(0o022):
        dep = make_deployment(tmp_path / "agg", {"team": 6})
        server = start_server(dep.data, tmp_path / "home")
    try:
        client = enroll_client(server.url, dep.token("team"))
        assert post_report(server.url, client.sealed(values(1))).status_code == 201
        files = {p.name for p in dep.data.root.iterdir()}
        assert "aggregator.duckdb.wal" in files, files  # the WAL exists while serving
        assert loose(dep.data.root) == []
    finally:
        server.stop()
    assert loose(dep.data.root) == []


def test_both_secure_roles_keep_their_files_private(tmp_path: Path) -> None:
    with umask(0o022):
        pair = provision(tmp_path / "pair", roster=12, tokens=2)
    try:
        for i, client in enumerate(enroll_all(pair, 2)):
            _, body = client.report(measurement(i))
            assert client.upload(pair.leader.url, body).status_code == 200
        assert aggregate_now(pair)["aggregated"] == 2
        for server in (pair.leader, pair.helper):
            assert loose(server.data.root) == []
    finally:
        pair.stop()


def test_offline_commands_keep_the_data_dir_private(tmp_path: Path) -> None:
    data = tmp_path / "agg"

    def run(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    with umask(0o022):
        run("init", "--data", str(data))
        run("cohort", "add", "web", "--roster", "11", "--data", str(data))
        run("tokens", "issue", "web", "--count", "3", "--data", str(data))
    assert loose(data) == []
