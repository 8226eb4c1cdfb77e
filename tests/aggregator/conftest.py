"""Fixtures for the aggregator tests; the harness itself is in aggregator_harness.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aggregator_harness import Server, start_server

from worktally.aggregator.settings import DataDir


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKTALLY_HOME", str(tmp_path / "home"))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[DataDir], Server]]:
    started: list[Server] = []

    def _start(data: DataDir) -> Server:
        server = start_server(data, tmp_path / "server-home")
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()
