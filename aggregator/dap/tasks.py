"""Task provisioning: the leader makes a secure cohort's task, the helper reviews and accepts it.

The leader's `cohort add ... --helper-url` builds the TaskConfig (which binds every privacy
parameter and the collector's key), draws the VDAF verify key and the bearer token it will
present to the helper, and writes a task file. The helper's operator reads the file's summary
and accepts it (CLI `task accept FILE`, or `PUT /v1/admin/tasks`) or refuses it by policy.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from worktally.aggregator import clock
from worktally.aggregator.audit_log import audit
from worktally.aggregator.dap.keys import COLLECTOR, load_keys
from worktally.aggregator.dap.model import SecureModel, model_for
from worktally.aggregator.errors import AuthError, Conflict, NotFound, PolicyViolation
from worktally.aggregator.provisioning import COHORT_NAME, digest, new_token
from worktally.aggregator.settings import (
    DEFAULT_EPSILON,
    DEFAULT_K,
    DEFAULT_WINDOW,
    MECHANISM,
    MIN_EPSILON,
    DataDir,
)
from worktally.aggregator.store import AggregatorStore
from worktally.client.wire.dap import DapError, b64url, from_b64url
from worktally.client.wire.dap.hpke import supported
from worktally.client.wire.dap.messages import TASK_ID_SIZE, HpkeConfigList
from worktally.client.wire.dap.task import TaskConfig
from worktally.client.wire.privacy import YEARLY_EPSILON_CAP
from worktally.client.wire.windows import WINDOWS_PER_YEAR as WINDOWS_PER_YEAR_BY_KIND

TASK_FILE_FORMAT = "worktally-dap-task/1"
# The client's ledger funds at most this many windows a year (see wire/windows.py).
WINDOWS_PER_YEAR = {kind.value: n for kind, n in WINDOWS_PER_YEAR_BY_KIND.items()}


@dataclass(frozen=True)
class Task:
    """A task as one aggregator holds it. The leader keeps the token it sends the helper and
    the helper's HPKE configs; the helper keeps only the token's digest."""

    config: TaskConfig
    verify_key: bytes
    leader_token_sha256: str
    leader_token: str | None = None
    helper_hpke: HpkeConfigList | None = None

    @property
    def task_id(self) -> bytes:
        return self.config.task_id

    @property
    def cohort(self) -> str:
        return self.config.cohort


@dataclass(frozen=True)
class HelperPolicy:
    """What a helper's operator accepts; a task outside it is refused with the reason."""

    max_epsilon: float = DEFAULT_EPSILON
    max_epsilon_per_year: float = YEARLY_EPSILON_CAP
    min_k: int = DEFAULT_K


def create_task(store: AggregatorStore, data: DataDir, *, cohort: str, roster: int,
                leader_url: str, helper_url: str, helper_hpke: HpkeConfigList,
                window: str = DEFAULT_WINDOW, epsilon: float = DEFAULT_EPSILON,
                noise_copies: int = 1, k_min: int = DEFAULT_K,
                schema_version: int = 2,
                models: dict[int, SecureModel] | None = None, actor: str = "admin") -> Task:
    """At the leader: a new secure cohort and its task (the cohort is the task)."""
    if not COHORT_NAME.fullmatch(cohort):
        raise PolicyViolation("a cohort name is 1-64 letters, digits, '.', '_' or '-'")
    if not epsilon >= MIN_EPSILON:
        raise PolicyViolation(f"ε per release must be at least {MIN_EPSILON}")
    if not any(supported(c) for c in helper_hpke.configs):
        raise PolicyViolation("the helper offers no HPKE config this leader can seal to")
    model = model_for(schema_version, models)
    collector = load_keys(store, data, COLLECTOR)
    if not collector:
        raise PolicyViolation("this data directory has no collector key; only a leader "
                              "made with `init --role leader` can create secure cohorts")
    try:
        config = TaskConfig(cohort, leader_url, helper_url, window, epsilon, noise_copies,
                            k_min, schema_version, model.entries, model.chunk_length,
                            next(iter(collector.values())).config)
    except DapError as exc:
        raise PolicyViolation(str(exc)) from exc
    token = new_token()
    task = Task(config, os.urandom(config.vdaf().VERIFY_KEY_SIZE), digest(token), token,
                helper_hpke)
    now = clock.now()
    with store.transaction() as con:
        if con.execute("SELECT 1 FROM cohorts WHERE name = ?", [cohort]).fetchone():
            raise Conflict(f"cohort {cohort} already exists")
        con.execute("INSERT INTO cohorts (name, roster_size, epsilon, delta, mechanism, "
                    "created_at, window_kind, k_min) VALUES (?, ?, ?, 0.0, ?, ?, ?, ?)",
                    [cohort, roster, epsilon, MECHANISM, now, window, k_min])
        _insert(con, task, now)
        audit(con, actor, "cohort-add", cohort, None,
              f"secure task={b64url(task.task_id)} roster={roster} window={window} "
              f"epsilon={epsilon} noise_copies={noise_copies} k={k_min}")
    return task


def task_file(task: Task) -> dict[str, Any]:
    """The file the leader's operator hands the helper's: the config, its summary, and the
    two secrets (the VDAF verify key and the leader's bearer token)."""
    if task.leader_token is None:
        raise PolicyViolation("only the leader holds the task's bearer token")
    return {"format": TASK_FILE_FORMAT, "task_id": b64url(task.task_id),
            "task_config": b64url(task.config.encoded),
            "vdaf_verify_key": b64url(task.verify_key),
            "leader_auth_token": task.leader_token, "summary": task.config.summary()}


def read_task_file(obj: object, models: dict[int, SecureModel] | None = None) -> Task:
    """Parse and check a task file (helper side); PolicyViolation says what is wrong."""
    if not isinstance(obj, dict) or obj.get("format") != TASK_FILE_FORMAT:
        raise PolicyViolation(f"not a task file (expected format {TASK_FILE_FORMAT})")
    try:
        raw = _b64(obj.get("task_config"))
        config = TaskConfig.decode(raw)
        claimed = from_b64url(str(obj.get("task_id")), TASK_ID_SIZE, "task_id")
        verify_key = _b64(obj.get("vdaf_verify_key"))
    except DapError as exc:
        raise PolicyViolation(f"the task file is malformed: {exc}") from exc
    if claimed != config.task_id:
        raise PolicyViolation("the task id does not match the hash of the task's config")
    if len(verify_key) != config.vdaf().VERIFY_KEY_SIZE:
        raise PolicyViolation("the VDAF verify key has the wrong length")
    token = obj.get("leader_auth_token")
    if not isinstance(token, str) or not 32 <= len(token) <= 200 or not token.isascii():
        raise PolicyViolation("the task file has no usable leader_auth_token")
    model = model_for(config.schema_version, models)
    if config.entries != model.entries:
        raise PolicyViolation(f"the task's report bounds differ from schema "
                              f"{config.schema_version}'s; refusing a task that widens them")
    if not supported(config.collector_hpke):
        raise PolicyViolation("the collector's HPKE config uses unsupported algorithms")
    return Task(config, verify_key, digest(token))


def check_policy(config: TaskConfig, policy: HelperPolicy) -> None:
    """The helper operator's review, as code: refuse what the privacy office would not sign."""
    yearly = config.epsilon_release * WINDOWS_PER_YEAR[config.window_kind]
    if config.epsilon_release > policy.max_epsilon:
        raise PolicyViolation(f"ε per release {config.epsilon_release} is above this helper's "
                              f"maximum of {policy.max_epsilon}")
    if yearly > policy.max_epsilon_per_year + 1e-9:
        raise PolicyViolation(f"ε per release {config.epsilon_release} with {config.window_kind}"
                              f"ly releases spends up to {yearly:g} per person per year, above "
                              f"this helper's maximum of {policy.max_epsilon_per_year}")
    if config.k_min < policy.min_k:
        raise PolicyViolation(f"k = {config.k_min} is below this helper's minimum of "
                              f"{policy.min_k}")
    if config.roster_cap is not None and config.roster_cap < config.k_min:
        raise PolicyViolation(f"the roster of {config.roster_cap} is under k = {config.k_min}: "
                              "no batch could ever be released")


def accept_task(store: AggregatorStore, obj: object, policy: HelperPolicy,
                models: dict[int, SecureModel] | None = None, actor: str = "admin") -> Task:
    """At the helper: review and store a task; accepting the same task again is a no-op."""
    task = read_task_file(obj, models)
    check_policy(task.config, policy)
    now = clock.now()
    with store.transaction() as con:
        row = con.execute("SELECT task_id, verify_key, leader_token_sha256 FROM dap_tasks "
                          "WHERE task_id = ? OR cohort = ?",
                          [task.task_id, task.cohort]).fetchone()
        if row is not None:
            same = (bytes(row[0]), bytes(row[1]), row[2]) == (
                task.task_id, task.verify_key, task.leader_token_sha256)
            if not same:
                raise Conflict(f"a different task for cohort {task.cohort} is already accepted")
            return task
        _insert(con, task, now)
        audit(con, actor, "task-accept", task.cohort, None,
              f"task={b64url(task.task_id)} epsilon={task.config.epsilon_release} "
              f"window={task.config.window_kind} k={task.config.k_min} "
              f"noise_copies={task.config.noise_copies}")
    return task


def load_task(store: AggregatorStore, task_id: bytes) -> Task:
    with store.transaction() as con:
        row = con.execute(_SELECT + " WHERE task_id = ?", [task_id]).fetchone()
    if row is None:
        raise NotFound("unrecognizedTask: no task with this id here")
    return _task(row)


def task_for_cohort(store: AggregatorStore, cohort: str) -> Task | None:
    with store.transaction() as con:
        row = con.execute(_SELECT + " WHERE cohort = ?", [cohort]).fetchone()
    return _task(row) if row else None


def list_tasks(store: AggregatorStore) -> list[Task]:
    with store.transaction() as con:
        rows = con.execute(_SELECT + " ORDER BY cohort").fetchall()
    return [_task(row) for row in rows]


def check_leader_token(task: Task, token: str | None) -> None:
    """The helper's check on every aggregation and aggregate-share request."""
    if not token or not hmac.compare_digest(digest(token), task.leader_token_sha256):
        raise AuthError("this endpoint needs the task's leader bearer token")


_SELECT = ("SELECT config, verify_key, leader_token_sha256, leader_token, helper_hpke "
           "FROM dap_tasks")


def _task(row: tuple[Any, ...]) -> Task:
    helper = HpkeConfigList.decode(bytes(row[4])) if row[4] is not None else None
    return Task(TaskConfig.decode(bytes(row[0])), bytes(row[1]), row[2], row[3], helper)


def _insert(con: duckdb.DuckDBPyConnection, task: Task, now: datetime) -> None:
    con.execute("INSERT INTO dap_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [task.task_id, task.cohort, task.config.encoded, task.verify_key,
                 task.leader_token, task.leader_token_sha256,
                 task.helper_hpke.encode() if task.helper_hpke else None, now])


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise DapError("expected a base64url string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DapError("expected a base64url string") from exc
