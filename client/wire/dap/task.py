"""A secure cohort's task: every parameter the client, both aggregators and the collector must
agree on, encoded deterministically as DAP's TaskConfiguration; `task_id = SHA-256(encoding)`.

Because the id is the hash of the whole encoding, changing any parameter (ε, the window, k,
the noise model, the report's bounds, the collector's key) makes a different task, which a
helper or client that agreed to the old one will not recognise.

The roster (how many people the team has) is not in it: it changes as people join and leave,
the leader alone enrolls people into roster slots and enforces it, and a helper could never
check it anyway (it cannot tell people apart). Tasks made before that decision carry their
roster in an older policy extension, and keep it as a cap both aggregators enforce
(`roster_cap`); their ids, the hashes of their stored encodings, do not change.

worktally's own parameters ride in a private task extension (`WorktallyPolicy`); the VDAF
configuration is BoundedVec's entry list. The VDAF verify key and the leader's bearer token
for the helper are secrets that travel with the task to the helper but are not hashed.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from worktally.client.wire.dap.aggregation import BatchMode
from worktally.client.wire.dap.codec import (
    DapError,
    Reader,
    f64,
    opaque,
    read_f64,
    u8,
    u16,
    u32,
    u64,
)
from worktally.client.wire.dap.messages import HpkeConfig
from worktally.client.wire.dap.window import WINDOW_KINDS
from worktally.client.wire.measurement import ctx as measurement_ctx
from worktally.client.wire.vdaf import BOUNDED_VEC_ID, Entry, Prio3, VdafError, bounded_vec

POLICY_EXTENSION = 0xFF58
LEGACY_POLICY_EXTENSION = 0xFF57  # the policy with the roster inside (tasks made before)
NO_GATE = 0xFF
DEFAULT_TIME_PRECISION = 3600
MAX_EPSILON = 64.0  # far above any sane release; keeps a typo from meaning "no privacy"
_COHORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/%-]*)?")


@dataclass(frozen=True)
class TaskConfig:
    """The hashed parameters of one cohort's secure-aggregation task."""

    cohort: str
    leader_url: str
    helper_url: str
    window_kind: str
    epsilon_release: float
    noise_copies: int  # 1: the helper adds noise; 2: both aggregators do
    k_min: int
    schema_version: int
    entries: tuple[Entry, ...]
    chunk_length: int
    collector_hpke: HpkeConfig
    time_precision: int = DEFAULT_TIME_PRECISION
    roster_cap: int | None = None  # a legacy task's hashed roster; None for new tasks

    def __post_init__(self) -> None:
        _check(self)

    # --- derived -------------------------------------------------------------------------

    @cached_property
    def encoded(self) -> bytes:
        return self.encode()

    @cached_property
    def task_id(self) -> bytes:
        return hashlib.sha256(self.encoded).digest()

    @property
    def ctx(self) -> bytes:
        """The VDAF application context (`measurement.ctx` builds it, for every task)."""
        return measurement_ctx(self.task_id)

    @cached_property
    def _prio3(self) -> Prio3[Any, Any]:
        return bounded_vec(self.entries, self.chunk_length)

    def vdaf(self) -> Prio3[Any, Any]:
        """The task's Prio3 (built once; the circuit setup is not free)."""
        return self._prio3

    # --- encoding ------------------------------------------------------------------------

    def encode(self) -> bytes:
        vdaf_config = u32(self.chunk_length, "chunk_length") + opaque(
            b"".join(u64(e.bound, "bound") + u8(NO_GATE if e.gate is None else e.gate, "gate")
                     for e in self.entries), 2, "entries", 9)
        roster = b"" if self.roster_cap is None else u32(self.roster_cap, "roster")
        policy = (u16(self.schema_version, "schema_version") + roster
                  + u8(self.noise_copies, "noise_copies")
                  + f64(self.epsilon_release, "epsilon_release")
                  + self.collector_hpke.write())
        kind = POLICY_EXTENSION if self.roster_cap is None else LEGACY_POLICY_EXTENSION
        extensions = u16(kind) + opaque(policy, 2, "policy")
        return (opaque(self.cohort.encode("ascii"), 1, "task_info", 1)
                + opaque(self.leader_url.encode("ascii"), 2, "leader url", 1)
                + opaque(self.helper_url.encode("ascii"), 2, "helper url", 1)
                + u64(self.time_precision, "time_precision") + u64(self.k_min, "min_batch_size")
                + u8(BatchMode.WORKTALLY_WINDOW)
                + opaque(opaque(self.window_kind.encode("ascii"), 1, "window kind", 1), 2,
                         "batch_config")
                + u32(BOUNDED_VEC_ID) + opaque(vdaf_config, 2, "vdaf_configuration")
                + opaque(extensions, 2, "extensions"))

    @classmethod
    def decode(cls, data: bytes) -> TaskConfig:
        r = Reader(data, "TaskConfiguration")
        cohort = _ascii(r.opaque(1, "task_info", 1), "task_info")
        leader = _ascii(r.opaque(2, "leader url", 1), "leader url")
        helper = _ascii(r.opaque(2, "helper url", 1), "helper url")
        precision, k_min = r.u64("time_precision"), r.u64("min_batch_size")
        if r.enum(BatchMode, 1, "batch_mode") is not BatchMode.WORKTALLY_WINDOW:
            raise DapError("TaskConfiguration: the batch mode must be the worktally window")
        batch = Reader(r.opaque(2, "batch_config"), "window batch config")
        kind = _ascii(batch.opaque(1, "window kind", 1), "window kind")
        batch.finish()
        if r.u32("vdaf_type") != BOUNDED_VEC_ID:
            raise DapError("TaskConfiguration: the VDAF must be Prio3BoundedVec")
        vdaf = Reader(r.opaque(2, "vdaf_configuration"), "BoundedVec config")
        chunk = vdaf.u32("chunk_length")
        entries = tuple(vdaf.items(2, "entries", _read_entry, 9))
        vdaf.finish()
        ext = Reader(r.opaque(2, "extensions"), "task extensions")
        ext_type = ext.u16("extension_type")
        if ext_type not in (POLICY_EXTENSION, LEGACY_POLICY_EXTENSION):
            raise DapError("TaskConfiguration: the only task extension is worktally's policy")
        policy = Reader(ext.opaque(2, "policy"), "worktally policy")
        ext.finish()
        r.finish()
        schema = policy.u16("schema_version")
        roster = policy.u32("roster") if ext_type == LEGACY_POLICY_EXTENSION else None
        copies, epsilon = policy.u8("noise_copies"), read_f64(policy, "epsilon_release")
        collector = HpkeConfig.read(policy)
        policy.finish()
        config = cls(cohort, leader, helper, kind, epsilon, copies, k_min, schema, entries,
                     chunk, collector, precision, roster)
        if config.encode() != bytes(data):
            raise DapError("TaskConfiguration is not in canonical form")
        return config

    def summary(self) -> dict[str, Any]:
        """What an operator reviews before accepting the task (no secrets)."""
        out: dict[str, Any] = {
            "task_id": self.task_id.hex(), "cohort": self.cohort,
            "leader_url": self.leader_url, "helper_url": self.helper_url,
            "window": self.window_kind, "epsilon_per_release": self.epsilon_release,
            "noise": "helper" if self.noise_copies == 1 else "both",
            "k_min": self.k_min, "schema_version": self.schema_version,
            "entries": [{"bound": e.bound, "gate": e.gate} for e in self.entries],
        }
        if self.roster_cap is not None:
            out["roster_cap"] = self.roster_cap
        return out


def _read_entry(r: Reader) -> Entry:
    bound, gate = r.u64("bound"), r.u8("gate")
    return Entry(bound, None if gate == NO_GATE else gate)


def _ascii(raw: bytes, what: str) -> str:
    if not raw.isascii():
        raise DapError(f"TaskConfiguration: {what} must be ASCII")
    return raw.decode("ascii")


def _check(c: TaskConfig) -> None:
    if not isinstance(c.cohort, str) or not _COHORT.fullmatch(c.cohort):
        raise DapError("a cohort name is 1-64 letters, digits, '.', '_' or '-'")
    for name in ("leader_url", "helper_url"):
        url = getattr(c, name)
        if not isinstance(url, str) or len(url) > 512 or not _URL.fullmatch(url):
            raise DapError(f"{name} must be an http(s) URL of plain ASCII, like "
                           "https://helper.example/dap")
    if c.window_kind not in WINDOW_KINDS:
        raise DapError(f"window must be one of {', '.join(WINDOW_KINDS)}")
    if isinstance(c.epsilon_release, bool) or not isinstance(c.epsilon_release, int | float) \
            or not math.isfinite(c.epsilon_release) or not 0 < c.epsilon_release <= MAX_EPSILON:
        raise DapError(f"epsilon per release must be in (0, {MAX_EPSILON}]")
    if c.noise_copies not in (1, 2):
        raise DapError("noise copies must be 1 (helper only) or 2 (both aggregators)")
    if not isinstance(c.k_min, int) or c.k_min < 2:
        raise DapError("k must be at least 2")
    if c.roster_cap is not None and (not isinstance(c.roster_cap, int)
                                     or not 1 <= c.roster_cap < 2**32):
        raise DapError("a legacy task's roster must be between 1 and 2**32 - 1 people")
    if not isinstance(c.schema_version, int) or not 0 <= c.schema_version < 2**16:
        raise DapError("schema version must fit in 16 bits")
    if not isinstance(c.time_precision, int) or not 1 <= c.time_precision <= 86400:
        raise DapError("time precision must be 1 s to 1 day")
    if not c.entries or len(c.entries) >= NO_GATE:
        raise DapError(f"a task has 1 to {NO_GATE - 1} report entries")
    if not isinstance(c.chunk_length, int) or not 1 <= c.chunk_length < 2**32:
        raise DapError("chunk length must be a positive 32-bit integer")
    try:
        c.vdaf()
    except VdafError as exc:
        raise DapError(f"the report's entries are not a valid BoundedVec: {exc}") from exc
