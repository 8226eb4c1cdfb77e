"""Drain throughput: N spooled edit events through `store.drain` vs a plain DuckDB bulk insert.

Run: python bench/bench_drain.py [--events 200000] [--batch 5000]. Both sides write the same
rows into a fresh migrated database in this process; the ratio is drain time / bulk time.
CPU time (this process, all threads) is printed too: on a shared machine it is steadier.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from worktally.client.capture.records import EditEvent
from worktally.client.capture.spool import Spool
from worktally.client.store import db
from worktally.client.store.drain import drain

TARGET_EVENTS_PER_S = 50_000


def make_events(n: int) -> list[EditEvent]:
    now = time.time()
    return [
        EditEvent(source="ai" if i % 3 == 0 else "typed", keys=(i * 2, i * 2 + 1),
                  file_id=f"{i % 97:016x}", repo_id="00000000000000aa", language="python",
                  tool="copilot" if i % 3 == 0 else None, line_count=2, ts=now + i * 1e-3)
        for i in range(n)
    ]


def bulk_insert(path: Path, records: list[EditEvent]) -> tuple[float, float]:
    """The floor: one columnar INSERT per table, no parsing, no idempotency check."""
    con = db.connect(path)
    started, cpu = time.perf_counter(), time.process_time()
    ts = [dt.datetime.fromtimestamp(r.ts, tz=dt.UTC) for r in records]
    con.execute("BEGIN TRANSACTION")
    con.execute(
        "INSERT INTO edits SELECT unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), "
        "unnest($6), unnest($7), unnest($8), unnest($9), unnest($10), unnest($11), unnest($12)",
        [[r.event_id for r in records], ts, [r.repo_id for r in records],
         [r.file_id for r in records], [r.language for r in records],
         [r.source for r in records], [r.tool for r in records], [r.kind for r in records],
         [r.model for r in records], [r.session_id for r in records],
         [r.line_count for r in records], [r.origin for r in records]],
    )
    lines = [(r, k, t) for r, t in zip(records, ts, strict=True) for k in r.keys]
    con.execute(
        "INSERT INTO edit_lines SELECT unnest($1), unnest($2), unnest($3), unnest($4), "
        "unnest($5), unnest($6), unnest($7), unnest($8), unnest($9)",
        [[r.event_id for r, _, _ in lines], [k for _, k, _ in lines], [t for _, _, t in lines],
         [r.source for r, _, _ in lines], [r.tool for r, _, _ in lines],
         [r.kind for r, _, _ in lines], [r.session_id for r, _, _ in lines],
         [r.file_id for r, _, _ in lines], [r.repo_id for r, _, _ in lines]],
    )
    con.execute("COMMIT")
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    con.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wt-bench-") as tmp:
        os.environ["WORKTALLY_HOME"] = str(Path(tmp) / "home")
        records = make_events(args.events)
        spool = Spool(Path(tmp) / "spool")
        for start in range(0, len(records), args.batch):
            spool.write(records[start:start + args.batch])
        con = db.connect(Path(tmp) / "drain.duckdb")
        started, cpu = time.perf_counter(), time.process_time()
        result = drain(con, spool)
        drain_s, drain_cpu = time.perf_counter() - started, time.process_time() - cpu
        stored = con.execute("SELECT count(*) FROM edits").fetchone()
        con.close()
        assert result.records == args.events and stored and stored[0] == args.events
        bulk_s, bulk_cpu = bulk_insert(Path(tmp) / "bulk.duckdb", records)
    drain_rate, bulk_rate = args.events / drain_s, args.events / bulk_s
    n = args.events
    print(f"events: {n} in batches of {args.batch}, 2 keys each")
    print(f"drain (read + parse + idempotent insert): {drain_s:.2f} s = {drain_rate:,.0f} ev/s "
          f"(cpu {drain_cpu:.2f} s = {n / drain_cpu:,.0f} ev/s)")
    print(f"plain DuckDB bulk insert:                 {bulk_s:.2f} s = {bulk_rate:,.0f} ev/s "
          f"(cpu {bulk_cpu:.2f} s = {n / bulk_cpu:,.0f} ev/s)")
    print(f"ratio drain/bulk time: {drain_s / bulk_s:.2f}x (cpu {drain_cpu / bulk_cpu:.2f}x)")
    for label, rate in (("wall", drain_rate), ("cpu", n / drain_cpu)):
        verdict = "meets" if rate >= TARGET_EVENTS_PER_S else "misses"
        print(f"target {TARGET_EVENTS_PER_S:,} ev/s by {label} time: {verdict}")


if __name__ == "__main__":
    main()
