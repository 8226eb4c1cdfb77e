"""Fixtures of the language-server tests (the scripted editor lives in lsp_editor.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret


@pytest.fixture
def keyer(worktally_home: Path) -> LineKeyer:
    """The same keyer the server uses (same WORKTALLY_HOME, same secret file)."""
    return LineKeyer(load_or_create_secret())


@pytest.fixture(autouse=True)
def private_home(worktally_home: Path) -> Path:
    """Every language-server test (and the server it starts) gets its own WORKTALLY_HOME."""
    return worktally_home
