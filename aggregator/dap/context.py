"""Everything one secure-mode aggregator process works with, opened once: its role, keys,
the noise source, the HTTP client for the helper and (at the leader) the driver thread.

The app and the CLI both build one; tests pass their own `noise` (a counting or fixed draw)
and `on_sent` hook, which is all the seam the protocol code needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from worktally.aggregator.dap.collector import release_secure
from worktally.aggregator.dap.driver import Driver
from worktally.aggregator.dap.keys import AGGREGATOR, COLLECTOR, check_role, load_keys
from worktally.aggregator.dap.model import NoiseFn, SecureModel, default_noise
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import task_for_cohort
from worktally.aggregator.errors import NotFound
from worktally.aggregator.releases import Release, check_period
from worktally.aggregator.settings import DataDir
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap.hpke import HpkeKeyPair


@dataclass
class DapContext:
    store: AggregatorStore
    data: DataDir
    role: str
    keys: dict[int, HpkeKeyPair]
    collector_keys: dict[int, HpkeKeyPair]
    noise: NoiseFn
    peer: HelperClient
    driver: Driver | None
    models: dict[int, SecureModel] | None = None

    @classmethod
    def open(cls, store: AggregatorStore, data: DataDir, role: str | None = None,
             noise: NoiseFn | None = None, driver_interval: float = 5.0,
             models: dict[int, SecureModel] | None = None,
             on_sent: Callable[[bytes], None] | None = None) -> DapContext:
        """Open a context; `role` (from `serve --role`) must match the data directory's."""
        actual = check_role(store, role)
        keys = load_keys(store, data, AGGREGATOR)
        collector = load_keys(store, data, COLLECTOR) if actual == "leader" else {}
        peer = HelperClient()
        driver = None
        if actual == "leader":
            driver = Driver(store, keys, peer, interval=driver_interval, on_sent=on_sent)
        return cls(store, data, actual, keys, collector, noise or default_noise,
                   peer, driver, models)

    def start(self) -> None:
        if self.driver is not None:
            self.driver.start()

    def close(self) -> None:
        if self.driver is not None:
            self.driver.stop()
        self.peer.close()

    def is_secure(self, cohort: str) -> bool:
        return self.role == "leader" and task_for_cohort(self.store, cohort) is not None

    def release(self, cohort: str, window: str, actor: str = "admin") -> Release:
        """Release a secure cohort's window: collect, open with the collector key, store."""
        check_period(window)
        task = task_for_cohort(self.store, cohort)
        if task is None or self.driver is None:
            raise NotFound(f"{cohort} is not a secure cohort of this leader")
        return release_secure(self.store, self.collector_keys, task, window, self.driver,
                              self.peer, self.noise, actor, self.models)
