"""A receiver on an ephemeral loopback port for every test here that asks for `running`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_support import Running, start_receiver


@pytest.fixture
def running(worktally_home: Path) -> Iterator[Running]:
    with start_receiver(worktally_home) as r:
        yield r
