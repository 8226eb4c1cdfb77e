"""Export of released figures, and nothing else: one row per (window, cohort, metric) of the
current report schema, in CSV or Parquet files partitioned by window the Hive way
(`window=2026-Q3/part-0.parquet`), so DuckDB, Spark or Trino read the folder as it is.

The input is the list of releases (`releases.list_releases`, or a client's copy of them),
which hold figures only: shares, receipts, keys and tokens never reach this module. Files are
written 0600 by a separate in-memory DuckDB (the aggregator's own connection may not touch
files), into folders created 0700; a folder that already exists is used as it is.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from worktally.aggregator.errors import AggregatorError
from worktally.aggregator.releases import Release
from worktally.client.wire.measurement import METRICS_BY_NAME, SCHEMA_VERSION
from worktally.client.wire.windows import LABEL_PATTERN, parse_label

FORMATS = ("csv", "parquet")
PARTITION = "window"
PART = "part-0"
DIR_MODE, FILE_MODE = 0o700, 0o600
# The columns of every file, in order (the window is the partition, in the folder name).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("cohort", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("unit", "VARCHAR"),
    ("estimate", "DOUBLE"),
    ("raw", "DOUBLE"),
    ("low", "DOUBLE"),
    ("high", "DOUBLE"),
    ("half_width", "DOUBLE"),
    ("informative", "BOOLEAN"),
    ("clamped", "BOOLEAN"),
    ("people_needed", "INTEGER"),
    ("n", "INTEGER"),
    ("epsilon", "DOUBLE"),
    ("noise_copies", "INTEGER"),
    ("mode", "VARCHAR"),
    ("release_id", "INTEGER"),
    ("released_at", "TIMESTAMPTZ"),
)


class ExportError(AggregatorError):
    """The export cannot be written where it was asked to go."""


@dataclass(frozen=True)
class Exported:
    out: Path
    files: tuple[Path, ...]
    rows: int
    windows: tuple[str, ...]


def figure_rows(releases: Iterable[Release]) -> list[dict[str, Any]]:
    """One row per released figure of the current schema, with its window, in window, cohort
    and schema order; each figure's numbers exactly as the summary shows them."""
    rows = []
    current = [r for r in releases if r.schema_version == SCHEMA_VERSION]
    for rel in sorted(current, key=lambda r: (parse_label(r.period).start, r.cohort)):
        for position, estimate in enumerate(rel.estimates):
            shown = estimate.figure().to_json()
            rows.append({
                PARTITION: rel.period, "position": position, "cohort": rel.cohort,
                "metric": estimate.metric, "unit": METRICS_BY_NAME[estimate.metric].unit,
                **{k: shown.get(k) for k in ("estimate", "raw", "low", "high", "half_width",
                                             "informative", "clamped", "people_needed")},
                "n": rel.n, "epsilon": rel.epsilon, "noise_copies": rel.noise_copies,
                "mode": rel.mode, "release_id": rel.release_id,
                "released_at": rel.released_at,
            })
    return rows


def export_releases(releases: Iterable[Release], fmt: str, out: Path) -> Exported:
    """Write the releases' figures under `out` as `window=LABEL/part-0.<fmt>`, one file per
    window (an existing file of the same name is replaced)."""
    if fmt not in FORMATS:
        raise ExportError(f"the export format is one of {', '.join(FORMATS)}, not {fmt!r}")
    rows = figure_rows(releases)
    make_private_dirs(out)
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": "false",
                                              "autoload_known_extensions": "false"})
    try:
        con.execute("SET TimeZone = 'UTC'")
        columns = ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS)
        con.execute(f'CREATE TABLE figures ("{PARTITION}" VARCHAR, position INTEGER, '
                    f"{columns})")
        names = [PARTITION, "position", *(name for name, _ in COLUMNS)]
        if rows:
            con.executemany(f"INSERT INTO figures VALUES ({', '.join('?' for _ in names)})",
                            [[row[name] for name in names] for row in rows])
        windows = tuple(dict.fromkeys(row[PARTITION] for row in rows))
        files = tuple(_write_window(con, out, window, fmt) for window in windows)
    finally:
        con.close()
    return Exported(out, files, len(rows), windows)


def _write_window(con: duckdb.DuckDBPyConnection, out: Path, window: str, fmt: str) -> Path:
    # The label goes into SQL and a folder name, so it must be exactly a window label.
    if not re.fullmatch(LABEL_PATTERN, window):
        raise ExportError(f"{window!r} is not a window label")
    folder = out / f"{PARTITION}={window}"
    if folder.is_symlink():
        raise ExportError(f"{folder} is a link; an export writes only into real folders")
    make_private_dirs(folder)
    target = folder / f"{PART}.{fmt}"
    # DuckDB creates its file with the process umask: write it in a private scratch folder,
    # make it 0600 there, then move it into place in one step.
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    try:
        written = scratch / target.name
        columns = ", ".join(f'"{name}"' for name, _ in COLUMNS)
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
        con.execute(f"COPY (SELECT {columns} FROM figures WHERE \"{PARTITION}\" = '{window}' "
                    f"ORDER BY cohort, position) TO {_sql_string(written)} ({options})")
        os.chmod(written, FILE_MODE)
        os.replace(written, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=False)
    return target


def make_private_dirs(path: Path) -> None:
    """Create `path` and any missing parents 0700. A folder that exists is left exactly as it
    is (never chmod a folder someone else made); a file in the way is refused."""
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        current = current.parent
    if not current.is_dir():
        raise ExportError(f"{current} is not a folder; choose another --out")
    for folder in reversed(missing):
        os.mkdir(folder, DIR_MODE)
        # The umask may have taken bits away; these folders are ours, just made.
        if (folder.stat().st_mode & 0o777) != DIR_MODE:
            os.chmod(folder, DIR_MODE)


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
