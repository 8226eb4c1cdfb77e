"""Where an aggregator keeps its state and the privacy defaults a new deployment starts from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worktally.client.wire.privacy import DEFAULT_PRIVACY

# A cohort is released only when its public roster has at least this many people.
DEFAULT_K = 10
# ...and at least this many of them sent a report for the period.
DEFAULT_MIN_CONTRIBUTORS = 5
# New cohorts get the client's default budget, so an unconfigured client matches.
DEFAULT_EPSILON = DEFAULT_PRIVACY.epsilon
DEFAULT_DELTA = DEFAULT_PRIVACY.delta
DEFAULT_MECHANISM = DEFAULT_PRIVACY.mechanism.value
PERIOD_KIND = DEFAULT_PRIVACY.period.value
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# The two secure-mode roles (design: one program, role fixed at init).
ROLES = ("leader", "helper")


@dataclass(frozen=True)
class DataDir:
    """The files of one aggregator deployment, all inside one 0700 directory."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "aggregator.duckdb"

    @property
    def private_key(self) -> Path:
        return self.root / "aggregator.x25519"

    def hpke_key(self, purpose: str, config_id: int) -> Path:
        """A secure-mode HPKE private key: the aggregator's own, or the collector's."""
        return self.root / f"hpke-{purpose}-{config_id}.x25519"


@dataclass(frozen=True)
class ReleasePolicy:
    """The thresholds every release is checked against, stored with each release."""

    k_min: int = DEFAULT_K
    min_contributors: int = DEFAULT_MIN_CONTRIBUTORS
