"""Everything one secure-mode aggregator process works with, opened once: its role, keys,
the noise source, the HTTP client for the helper and (at the leader) the driver thread; and
a keeper thread that rotates the HPKE keys and, at the leader, refreshes each task's copy of
the helper's keys.

The app and the CLI both build one; tests pass their own `noise` (a counting or fixed draw)
and `on_sent` hook, which is all the seam the protocol code needs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from worktally.aggregator.dap.collector import release_secure
from worktally.aggregator.dap.driver import Driver
from worktally.aggregator.dap.keys import COLLECTOR, KeyRing, check_role, load_keys, rotate
from worktally.aggregator.dap.model import NoiseFn, SecureModel, default_noise
from worktally.aggregator.dap.peer import HelperClient, PeerRefused
from worktally.aggregator.dap.tasks import list_tasks, task_for_cohort
from worktally.aggregator.errors import NotFound, PeerUnavailable
from worktally.aggregator.releases import Release, check_period
from worktally.aggregator.settings import DataDir
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap.hpke import HpkeKeyPair

log = logging.getLogger(__name__)
KEEPER_INTERVAL_S = 600.0


@dataclass
class DapContext:
    store: AggregatorStore
    data: DataDir
    role: str
    ring: KeyRing
    collector_keys: dict[int, HpkeKeyPair]
    noise: NoiseFn
    peer: HelperClient
    driver: Driver | None
    models: dict[int, SecureModel] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _keeper: threading.Thread | None = None

    @property
    def keys(self) -> dict[int, HpkeKeyPair]:
        """This aggregator's HPKE key pairs now, newest first."""
        return self.ring.pairs()

    @classmethod
    def open(cls, store: AggregatorStore, data: DataDir, role: str | None = None,
             noise: NoiseFn | None = None, driver_interval: float = 5.0,
             models: dict[int, SecureModel] | None = None,
             on_sent: Callable[[bytes], None] | None = None) -> DapContext:
        """Open a context; `role` (from `serve --role`) must match the data directory's."""
        actual = check_role(store, role)
        rotate(store, data)
        ring = KeyRing(store, data)
        collector = load_keys(store, data, COLLECTOR) if actual == "leader" else {}
        peer = HelperClient()
        driver = None
        if actual == "leader":
            driver = Driver(store, ring, peer, interval=driver_interval, on_sent=on_sent)
        return cls(store, data, actual, ring, collector, noise or default_noise,
                   peer, driver, models)

    def start(self) -> None:
        if self.driver is not None:
            self.driver.start()
        self._keeper = threading.Thread(target=self._keep, name="dap-keys", daemon=True)
        self._keeper.start()

    def close(self) -> None:
        self._stop.set()
        if self.driver is not None:
            self.driver.stop()
        if self._keeper is not None:
            self._keeper.join(timeout=30)
        self.peer.close()

    def _keep(self) -> None:
        while True:
            try:
                self.maintain()
            except Exception:  # the thread must outlive one bad pass; logged with its trace
                log.exception("key maintenance failed; retrying in %.0f s", KEEPER_INTERVAL_S)
            if self._stop.wait(KEEPER_INTERVAL_S):
                return

    def maintain(self) -> None:
        """Rotate this aggregator's keys, and (leader) refresh each task's copy of the
        helper's keys, so enrollment hands out the list the helper publishes now."""
        rotation = rotate(self.store, self.data)
        if rotation.made is not None or rotation.deleted:
            self.ring.reload()
        if self.role != "leader":
            return
        for task in list_tasks(self.store):
            if task.leader_token is None:
                continue
            try:
                fresh = self.peer.hpke_config(task.config.helper_url)
            except (PeerUnavailable, PeerRefused) as exc:
                log.warning("could not refresh %s's helper keys: %s", task.cohort, exc)
                continue
            if task.helper_hpke is None or fresh.encode() != task.helper_hpke.encode():
                with self.store.transaction() as con:
                    con.execute("UPDATE dap_tasks SET helper_hpke = ? WHERE task_id = ?",
                                [fresh.encode(), task.task_id])

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
