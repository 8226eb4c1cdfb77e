"""Local mode's accepted reports, kept sealed until their window is released.

Adding each report to running sums as it arrived left successive totals in the WAL and in
freed database pages, and the difference of two is one person's noised vector. So nothing is
added up before the release: an accepted report's values are encrypted (AES-256-GCM) under a
key of their own cohort-window, kept in a 0600 file beside the database, never in it. The
release decrypts them, sums them in memory, stores only the figures, deletes the rows and
then the key file, so what a released window's rows leave in freed pages can no longer be
opened, even with every key the aggregator still has.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from worktally.aggregator.errors import AggregatorError
from worktally.client import paths
from worktally.client.wire.measurement import METRIC_NAMES

_NONCE = 12


class SealedReportError(AggregatorError):
    """A stored report that does not open: its window's key file is missing or altered."""

    status = 500


@dataclass(frozen=True)
class WindowTotals:
    """A window's reports summed at release time (in memory only)."""

    n: int
    sums: list[int]


def key_path(root: Path, cohort: str, period: str) -> Path:
    name = hashlib.sha256(f"{cohort}\0{period}".encode()).hexdigest()[:24]
    return root / f"local-window-{name}.key"


def _aad(cohort: str, period: str) -> bytes:
    return f"worktally local report\0{cohort}\0{period}".encode()


def _window_key(root: Path, cohort: str, period: str, create: bool) -> bytes:
    path = key_path(root, cohort, period)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise SealedReportError(f"the key of {cohort} {period}'s stored reports is "
                                    f"missing from the data dir ({path.name}); restore it "
                                    "from a backup") from None
    paths.write_private(path, AESGCM.generate_key(bit_length=256))
    return path.read_bytes()


def keep(con: duckdb.DuckDBPyConnection, root: Path, cohort: str, period: str,
         client_id: str, values: tuple[int, ...], received_at: object) -> None:
    """Store one accepted report's values, sealed under its window's key."""
    key = _window_key(root, cohort, period, create=True)
    nonce = os.urandom(_NONCE)
    sealed = nonce + AESGCM(key).encrypt(nonce, struct.pack(f"<{len(values)}q", *values),
                                         _aad(cohort, period))
    con.execute("INSERT INTO local_reports VALUES (?, ?, ?, ?, ?)",
                [cohort, period, client_id, sealed, received_at])


def count(con: duckdb.DuckDBPyConnection, cohort: str, period: str) -> int:
    """How many reports a window holds (those from before reports were kept sealed too)."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM local_reports WHERE cohort = ? AND period = ?) + "
        "coalesce((SELECT n FROM contributions WHERE cohort = ? AND period = ?), 0)",
        [cohort, period, cohort, period]).fetchone()
    return int(row[0]) if row else 0


def totals(con: duckdb.DuckDBPyConnection, root: Path, cohort: str,
           period: str) -> WindowTotals:
    """Open and add up a window's reports, plus any sums kept before reports were sealed."""
    width = len(METRIC_NAMES)
    legacy = dict(con.execute("SELECT metric, total FROM sums WHERE cohort = ? AND "
                              "period = ?", [cohort, period]).fetchall())
    sums = [int(legacy.get(name, 0)) for name in METRIC_NAMES]
    rows = con.execute("SELECT sealed FROM local_reports WHERE cohort = ? AND period = ?",
                       [cohort, period]).fetchall()
    if rows:
        aead = AESGCM(_window_key(root, cohort, period, create=False))
        for (sealed,) in rows:
            blob = bytes(sealed)
            try:
                plain = aead.decrypt(blob[:_NONCE], blob[_NONCE:], _aad(cohort, period))
            except InvalidTag as exc:
                raise SealedReportError(f"a stored report of {cohort} {period} does not open "
                                        "under its window's key") from exc
            for i, value in enumerate(struct.unpack(f"<{width}q", plain)):
                sums[i] += value
    return WindowTotals(count(con, cohort, period), sums)


def forget(con: duckdb.DuckDBPyConnection, cohort: str, period: str) -> None:
    """Drop a released window's stored reports and any older sums (same transaction as the
    release); `shred` removes the key once it has committed."""
    for table in ("local_reports", "sums", "contributions"):
        con.execute(f"DELETE FROM {table} WHERE cohort = ? AND period = ?", [cohort, period])


def shred(root: Path, cohort: str, period: str) -> None:
    key_path(root, cohort, period).unlink(missing_ok=True)


def sweep(con: duckdb.DuckDBPyConnection, root: Path) -> list[str]:
    """Delete the key files of windows that hold no stored report (released, or a crash
    between a release's commit and its shred); returns their names."""
    live = {key_path(root, c, p).name for c, p in con.execute(
        "SELECT DISTINCT cohort, period FROM local_reports").fetchall()}
    gone = []
    for path in root.glob("local-window-*.key"):
        if path.name not in live:
            path.unlink(missing_ok=True)
            gone.append(path.name)
    return gone
