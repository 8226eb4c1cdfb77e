"""Private paths: worktally's own folders are 0700 and its files 0600, and a folder that already
exists outside WORKTALLY_HOME (an output folder, /tmp) is never chmod-ed."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from worktally.client import paths


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    return tmp_path / "home"


def test_an_output_into_an_existing_folder_leaves_the_folder_alone(tmp_path: Path,
                                                                   home: Path) -> None:
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    outdir.chmod(0o755)
    paths.write_private(outdir / "dash.html", b"<html></html>")
    assert mode(outdir) == 0o755
    assert mode(outdir / "dash.html") == 0o600


def test_missing_folders_of_an_output_are_created_0700(tmp_path: Path, home: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    paths.write_private(shared / "a" / "b" / "out.json", b"{}")
    assert mode(shared) == 0o755
    assert mode(shared / "a") == mode(shared / "a" / "b") == 0o700


def test_worktally_home_and_its_folders_are_forced_private(home: Path) -> None:
    home.mkdir()
    home.chmod(0o755)
    (home / "spool").mkdir()
    (home / "spool").chmod(0o775)
    assert paths.spool_dir() == home / "spool"
    assert mode(home) == mode(home / "spool") == 0o700


def test_a_data_dir_the_caller_owns_is_forced_private(tmp_path: Path, home: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    paths.ensure_private_dir(data, owned=True)
    assert mode(data) == 0o700


def test_the_aggregator_dashboard_into_an_existing_folder_leaves_it_alone(
        tmp_path: Path, home: Path) -> None:
    agg = tmp_path / "agg"
    subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", "init", "--data",
                    str(agg)], check=True, capture_output=True, timeout=60)
    outdir = tmp_path / "reports"
    outdir.mkdir()
    outdir.chmod(0o751)
    done = subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", "dashboard",
                           "--data", str(agg), "--out", str(outdir / "dash.html")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert mode(outdir) == 0o751
    assert mode(outdir / "dash.html") == 0o600
