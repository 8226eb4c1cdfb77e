"""Shared fixtures of the importer tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _home(worktally_home: Path) -> None:
    """Every importer test gets its own WORKTALLY_HOME."""
