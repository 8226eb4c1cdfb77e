"""Batch buckets (DAP "Batch Buckets"), the same at both aggregators: per (task, window) an
aggregate share, the report count and the XOR checksum of SHA-256(report id).

An output share is folded in at once and never stored on its own, so what remains of a
report after aggregation is its id (for replay checks) and its part of these running totals.
Collecting a batch closes it and wipes its aggregate share: only the sealed answer is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from worktally.aggregator.errors import Conflict
from worktally.client.wire.dap.aggregation import CHECKSUM_SIZE, xor_checksum
from worktally.client.wire.vdaf import Prio3


@dataclass(frozen=True)
class Bucket:
    agg_share: list[int] | None  # None once collected
    report_count: int
    checksum: bytes
    collected: bool


def bucket(con: duckdb.DuckDBPyConnection, vdaf: Prio3[Any, Any], task_id: bytes,
           window: str) -> Bucket:
    """The batch's bucket; an empty one if nothing was committed yet."""
    row = con.execute("SELECT agg_share, report_count, checksum, collected FROM dap_batches "
                      "WHERE task_id = ? AND window_label = ?", [task_id, window]).fetchone()
    if row is None:
        return Bucket(vdaf.agg_init(None), 0, bytes(CHECKSUM_SIZE), False)
    share = vdaf.decode_agg_share(bytes(row[0])) if row[0] is not None else None
    return Bucket(share, int(row[1]), bytes(row[2]), bool(row[3]))


def is_collected(con: duckdb.DuckDBPyConnection, task_id: bytes, window: str) -> bool:
    row = con.execute("SELECT collected FROM dap_batches WHERE task_id = ? AND "
                      "window_label = ?", [task_id, window]).fetchone()
    return bool(row and row[0])


def commit(con: duckdb.DuckDBPyConnection, vdaf: Prio3[Any, Any], task_id: bytes,
           window: str, outputs: Sequence[tuple[bytes, list[int]]]) -> Bucket:
    """Fold (report id, output share) pairs into the batch; the caller has checked replay."""
    current = bucket(con, vdaf, task_id, window)
    if current.collected or current.agg_share is None:
        raise Conflict(f"batch {window} is already collected; nothing more can be added")
    share, checksum = current.agg_share, current.checksum
    for report_id, out_share in outputs:
        share = vdaf.agg_update(None, share, out_share)
        checksum = xor_checksum(checksum, report_id)
    count = current.report_count + len(outputs)
    _store(con, task_id, window, vdaf.encode_agg_share(share), count, checksum, False)
    return Bucket(share, count, checksum, False)


def close(con: duckdb.DuckDBPyConnection, task_id: bytes, window: str, count: int,
          checksum: bytes) -> None:
    """Mark a batch collected and wipe its aggregate share (the sealed answer is kept)."""
    _store(con, task_id, window, None, count, checksum, True)


def _store(con: duckdb.DuckDBPyConnection, task_id: bytes, window: str, share: bytes | None,
           count: int, checksum: bytes, collected: bool) -> None:
    con.execute("INSERT INTO dap_batches VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (task_id, window_label) DO UPDATE SET agg_share = excluded.agg_share, "
                "report_count = excluded.report_count, checksum = excluded.checksum, "
                "collected = excluded.collected",
                [task_id, window, share, count, checksum, collected])
