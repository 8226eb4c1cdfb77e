"""Helpers for the OTLP tests: a running receiver, and draining its spool into a real DB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from worktally.client.capture.line_keys import LineKeyer, load_or_create_secret
from worktally.client.capture.spool import Spool
from worktally.client.otlp.receiver import Limits, OtlpReceiver
from worktally.client.repos.registry import RepoRegistry
from worktally.client.store import db
from worktally.client.store.drain import drain

CANARY = "CANARY-7f3e9a-do-not-leak"


@dataclass
class Running:
    receiver: OtlpReceiver
    port: int
    spool: Spool
    home: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for_batches(self, count: int, deadline_s: float = 10.0) -> None:
        """Poll the spool (exporters answer before we look) until `count` batches exist."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if len(self.spool.pending()) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"expected {count} spool batches, found {len(self.spool.pending())}")

    def drain_into_db(self) -> duckdb.DuckDBPyConnection:
        con = db.connect(self.home / "worktally.duckdb")
        drain(con, self.spool)
        return con


@contextmanager
def start_receiver(home: Path, secret: str | None = None) -> Iterator[Running]:
    """A receiver on an ephemeral loopback port, writing to the spool under `home`; with
    `secret`, it requires that bearer token."""
    keyer = LineKeyer(load_or_create_secret())
    spool = Spool()
    receiver = OtlpReceiver(0, spool, keyer, RepoRegistry(keyer),
                            limits=Limits(max_body_bytes=200_000, max_decompressed_bytes=400_000),
                            secret=secret)
    port = receiver.start()
    try:
        yield Running(receiver=receiver, port=port, spool=spool, home=home)
    finally:
        receiver.stop()
