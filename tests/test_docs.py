"""Every CLI command and every config key must be documented (the sqlite-utils rule)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from worktally.client import config

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _command_paths(group: click.Group, prefix: str) -> list[str]:
    out = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        out.append(path)
        if isinstance(command, click.Group):
            out.extend(_command_paths(command, path))
    return out


def _all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def test_the_three_users_and_architecture_have_pages() -> None:
    for page in ("developer.md", "privacy.md", "admin.md", "architecture.md"):
        assert (DOCS / page).is_file(), f"docs/{page} is missing"


@pytest.mark.parametrize("program", ["worktally", "worktally-aggregator"])
def test_every_command_is_documented(program: str) -> None:
    if program == "worktally":
        from worktally.client.cli import cli as group
    else:
        module = pytest.importorskip("worktally.aggregator.cli")
        group = module.cli
    cli_doc = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [p for p in _command_paths(group, program) if f"`{p}" not in cli_doc]
    assert not missing, f"undocumented commands in docs/cli.md: {missing}"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in config.all_keys() if f"`{key}`" not in text]
    assert not missing, f"undocumented config keys in docs/configuration.md: {missing}"
