"""The folder-to-namespace mapping in pyproject.toml must list every Python package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {
    "client": "worktally.client",
    "lsp": "worktally.lsp",
    "aggregator": "worktally.aggregator",
}


def test_every_package_is_listed() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    found = set()
    for folder, namespace in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "node_modules" in rel.parts:
                continue
            found.add(".".join([namespace, *rel.parts]))
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_wheel_holds_only_the_worktally_namespace(tmp_path: Path) -> None:
    """A regular (non-editable) build maps the folders and ships no bare client/lsp module."""
    import subprocess
    import sys
    import zipfile

    pytest.importorskip("setuptools")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, timeout=300, capture_output=True,
    )
    (wheel,) = tmp_path.glob("worktally-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"worktally"}
    for module in ("worktally/client/cli/__init__.py", "worktally/lsp/__init__.py",
                   "worktally/aggregator/__init__.py", "worktally/client/wire/measurement.py"):
        assert module in names
