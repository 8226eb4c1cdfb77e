"""The collector: open both sealed aggregate shares, unshard, estimate, store the release.

In the default deployment the org runs the leader and the collector, so the collector's key
sits in the leader's data directory and a release is one admin action. Only figures are
stored (per metric: value, raw, interval, half-width, informative, n) with ε and the noise
model; the aggregate itself is not kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from worktally.aggregator import clock
from worktally.aggregator.dap.collection import Collected, cohort_roster, collect
from worktally.aggregator.dap.driver import Driver
from worktally.aggregator.dap.model import NoiseFn, SecureModel, model_for
from worktally.aggregator.dap.peer import HelperClient
from worktally.aggregator.dap.tasks import Task
from worktally.aggregator.errors import PolicyViolation
from worktally.aggregator.releases import Release, check_releasable, store_release
from worktally.aggregator.settings import MECHANISM
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import DapError
from worktally.client.wire.dap.aggregation import AggregateShareAad
from worktally.client.wire.dap.hpke import HpkeKeyPair, open_aggregate_share
from worktally.client.wire.dap.messages import Role
from worktally.client.wire.vdaf import VdafError


def open_collection(collector_keys: dict[int, HpkeKeyPair], task: Task,
                    collected: Collected) -> list[int]:
    """The noisy aggregate (one signed integer per entry) from the two sealed shares."""
    config = task.config
    key = collector_keys.get(config.collector_hpke.id)
    if key is None or key.config != config.collector_hpke:
        raise PolicyViolation("this leader does not hold the collector key the task names; "
                              "open the shares where that key is")
    vdaf: Any = config.vdaf()
    aad = AggregateShareAad(task.task_id, config.encoded, collected.request)
    resp = collected.response
    try:
        shares = [vdaf.decode_agg_share(open_aggregate_share(key, role, aad, sealed))
                  for role, sealed in ((Role.LEADER, resp.leader_encrypted_agg_share),
                                       (Role.HELPER, resp.helper_encrypted_agg_share))]
        result: list[int] = vdaf.unshard(None, shares, resp.report_count, signed=True)
    except (DapError, VdafError) as exc:
        raise PolicyViolation(f"the aggregate shares do not open: {exc}") from exc
    return result


def release_secure(store: AggregatorStore, collector_keys: dict[int, HpkeKeyPair], task: Task,
                   window: str, driver: Driver, peer: HelperClient, noise: NoiseFn,
                   actor: str = "admin", models: dict[int, SecureModel] | None = None,
                   now: dt.datetime | None = None) -> Release:
    """Collect a batch, open it and store its release; refuses as local releases do."""
    with store.transaction() as con:
        check_releasable(con, task.cohort, window)
    collected = collect(store, task, window, driver, peer, noise, actor, now)
    aggregate = open_collection(collector_keys, task, collected)
    config = task.config
    n = collected.response.report_count
    model = model_for(config.schema_version, models)
    estimates = model.estimates(aggregate, n, config.epsilon_release, config.noise_copies)
    with store.transaction() as con:
        roster = cohort_roster(con, task)
    rel = Release(0, task.cohort, window, clock.now(), actor, n, roster,
                  config.k_min, config.k_min, config.epsilon_release, 0.0, MECHANISM,
                  config.schema_version, estimates, "secure", config.noise_copies)
    with store.transaction() as con:
        check_releasable(con, task.cohort, window)
        return store_release(con, rel)
