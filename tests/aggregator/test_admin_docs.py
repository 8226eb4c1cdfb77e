"""docs/admin.md documents every HTTP route the aggregator publishes and every release rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aggregator_harness import make_deployment

from worktally.aggregator.app import create_app
from worktally.aggregator.provisioning import init_data_dir
from worktally.aggregator.settings import DataDir, ReleasePolicy

ADMIN_DOC = Path(__file__).resolve().parents[2] / "docs" / "admin.md"


@pytest.mark.parametrize("role", ["leader", "helper"])
def test_every_route_in_the_openapi_document_is_in_admin_md(tmp_path: Path, role: str) -> None:
    if role == "leader":
        data = make_deployment(tmp_path / "agg", {"team": 10}).data
    else:
        data = DataDir(tmp_path / "helper")
        init_data_dir(data, ReleasePolicy(), role="helper")
    app = create_app(data)
    text = ADMIN_DOC.read_text(encoding="utf-8")
    routes = [(method.upper(), path) for path, ops in app.openapi()["paths"].items()
              for method in ops]
    assert routes, "the app publishes routes"
    missing = [f"{m} {p}" for m, p in routes if f"`{m} {p}`" not in text]
    assert not missing, f"routes missing from docs/admin.md: {missing}"


def test_the_release_rules_and_interval_formulas_are_written_down() -> None:
    text = ADMIN_DOC.read_text(encoding="utf-8")
    for flag in ("--k", "--min-contributors", "--roster", "--epsilon", "--delta"):
        assert re.search(rf"`{flag}`", text), flag
    assert "n·σ²" in text and "σ²/n" in text
    assert "/dashboard?token=" in text
