"""`worktally-aggregator export`: released figures only, partitioned by window the Hive way,
files 0600 in folders made 0700 (an existing folder left as it is), and the DuckDB query of
docs/admin.md run as written on a real export, giving the summary's numbers."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from aggregator_harness import (
    WINDOW,
    Server,
    bearer,
    enroll_client,
    make_deployment,
    post_report,
    values,
)
from release_seeding import COHORTS, seed

from worktally.aggregator.export import COLUMNS, ExportError, export_releases
from worktally.aggregator.provisioning import open_store
from worktally.aggregator.releases import list_releases
from worktally.aggregator.settings import DataDir
from worktally.aggregator.summary import build_summary
from worktally.client.wire.measurement import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
QUERY_MARKER = "<!-- export-query"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "worktally.aggregator.cli", *args],
                            capture_output=True, text=True, timeout=120, cwd=cwd,
                            env=dict(os.environ), check=False)
    assert result.returncode == 0, result.stderr
    return result


def documented_query() -> str:
    """The SQL block that follows the export-query marker in docs/admin.md."""
    text = (ROOT / "docs" / "admin.md").read_text(encoding="utf-8")
    after = text[text.index(QUERY_MARKER):]
    match = re.search(r"```sql\n(.*?)```", after, re.DOTALL)
    assert match, "docs/admin.md has no sql block after the export-query marker"
    return match.group(1)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def summary_means(summary: dict[str, Any], metric: str) -> dict[tuple[str, str], Any]:
    return {(r["period"], r["cohort"]): r["metrics"][metric]["mean"]
            for r in summary["cohorts"]}


def test_the_documented_query_reads_a_real_export_with_the_summarys_numbers(
        tmp_path: Path, serve: Callable[[DataDir], Server],
        monkeypatch: pytest.MonkeyPatch) -> None:
    dep = make_deployment(tmp_path / "agg", {"growth": 4, "platform": 4}, min_contributors=2)
    server = serve(dep.data)
    enrolled = []
    for cohort in ("growth", "platform"):
        for i in range(3):
            client = enroll_client(server.url, dep.token(cohort))
            enrolled.append(client.client_id)
            assert post_report(server.url, client.sealed(values(i))).status_code == 201
        released = httpx.post(f"{server.url}/v1/admin/releases", timeout=30,
                              headers=bearer(dep.admin_token),
                              json={"cohort": cohort, "period": WINDOW})
        assert released.status_code == 201, released.text
    server.stop()

    out = json.loads(cli("export", "--format", "parquet", "--out", "export", "--data",
                         str(dep.data.root), "--json", cwd=tmp_path).stdout)
    assert out["files"] == [f"window={WINDOW}/part-0.parquet"] and out["rows"] == 16
    summary = json.loads(cli("summary", "--data", str(dep.data.root), "--json",
                             cwd=tmp_path).stdout)

    # The query exactly as the page shows it, from the folder the page's command wrote.
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect()
    rows = con.execute(documented_query()).fetchall()
    want = summary_means(summary, "shipped_token_share_pm")
    assert [(w, c) for w, c, *_ in rows] == sorted(want)
    for window, cohort, estimate, low, high, informative in rows:
        mean = want[(window, cohort)]
        assert (estimate, low, high, informative) == (
            mean["estimate"], mean["low"], mean["high"], mean["informative"])

    # Released figures only: the exact columns, and none of the secrets the data dir holds.
    described = con.execute("DESCRIBE SELECT * FROM read_parquet('export/*/*.parquet', "
                            "hive_partitioning = true)").fetchall()
    assert [d[0] for d in described] == [name for name, _ in COLUMNS] + ["window"]
    exported = b"".join(p.read_bytes() for p in (tmp_path / "export").rglob("*")
                        if p.is_file())
    secrets = [dep.admin_token, dep.officer_token, *enrolled,
               *(t for ts in dep.tokens.values() for t in ts)]
    assert [s for s in secrets if s.encode() in exported] == []
    # A folder the export made is 0700, each file 0600, and no scratch is left behind.
    export = tmp_path / "export"
    assert mode(export) == 0o700 and mode(export / f"window={WINDOW}") == 0o700
    assert [p.name for p in export.rglob("*") if p.is_file()] == ["part-0.parquet"]
    assert mode(export / f"window={WINDOW}" / "part-0.parquet") == 0o600


def test_csv_export_has_one_partition_per_window_and_the_summarys_figures(
        tmp_path: Path) -> None:
    seeded = seed(DataDir(tmp_path / "agg"))
    out = tmp_path / "deep" / "csv"
    cli("export", "--format", "csv", "--out", str(out), "--data", str(seeded.data.root),
        cwd=tmp_path)
    windows = [w.label for w in seeded.windows]
    assert sorted(p.name for p in out.iterdir()) == [f"window={w}" for w in windows]
    assert mode(tmp_path / "deep") == 0o700, "missing parents are created private too"
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT \"window\", cohort, metric, estimate, raw, clamped, informative, "
        f"people_needed, n, epsilon, noise_copies, mode FROM read_csv('{out}/*/*.csv') "
        "ORDER BY \"window\", cohort, metric").fetchall()
    assert len(rows) == len(windows) * len(COHORTS) * len(METRIC_NAMES)
    summary = build_summary(list(seeded.releases))
    for window, cohort, metric, estimate, raw, clamped, informative, needed, n, eps, copies, \
            kind in rows:
        mean = summary_means(summary, metric)[(window, cohort)]
        assert (estimate, raw, clamped, informative, needed) == (
            mean["estimate"], mean["raw"], mean["clamped"], mean["informative"],
            mean["people_needed"])
        assert (n, eps, copies, kind) == (150, 4.0, 0, "local")
    assert any(r[5] for r in rows), "the seeded clamped figure is flagged"


def test_an_existing_folder_is_used_as_it_is_and_files_are_replaced(tmp_path: Path) -> None:
    seeded = seed(DataDir(tmp_path / "agg"))
    store = open_store(seeded.data)
    try:
        releases = list_releases(store)
    finally:
        store.close()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    first = export_releases(releases, "parquet", shared)
    again = export_releases(releases, "parquet", shared)
    assert mode(shared) == 0o755, "never chmod a folder the export did not create"
    assert first.files == again.files and all(mode(f) == 0o600 for f in again.files)
    assert sorted(p.relative_to(shared).as_posix() for p in shared.rglob("*")
                  if p.is_file()) == sorted(f.relative_to(shared).as_posix()
                                            for f in again.files)


def test_a_link_or_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    seeded = seed(DataDir(tmp_path / "agg"), count=1)
    releases = list(seeded.releases)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / f"window={seeded.windows[0].label}").symlink_to(elsewhere)
    with pytest.raises(ExportError, match="is a link"):
        export_releases(releases, "csv", out)
    assert list(elsewhere.iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="not a folder"):
        export_releases(releases, "csv", blocker / "out")
    with pytest.raises(ExportError, match="csv, parquet"):
        export_releases(releases, "json", tmp_path / "x")


def test_nothing_released_writes_nothing(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path / "agg", {"team": 3})
    result = cli("export", "--out", str(tmp_path / "out"), "--data", str(dep.data.root),
                 cwd=tmp_path)
    assert "Nothing is released yet" in result.stdout
    assert list((tmp_path / "out").iterdir()) == []
