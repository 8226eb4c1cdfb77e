"""Where an aggregator keeps its state and the privacy defaults a new deployment starts from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worktally.client.wire.privacy import (
    DEFAULT_EPSILON_PER_RELEASE,
    DEFAULT_RELEASE_WINDOW,
    Mechanism,
)

# A cohort is released only when at least k of its people reported (k <= n <= roster); this
# is the default k of new cohorts, `init --k`.
DEFAULT_K = 10
# ...and at least this many reported, whatever the cohort's k (`init --min-contributors`).
DEFAULT_MIN_CONTRIBUTORS = 5
# New cohorts of either mode get the client's defaults, so an unconfigured client agrees:
# one release per quarter at ε = 4, δ = 0, discrete Laplace noise.
DEFAULT_WINDOW = DEFAULT_RELEASE_WINDOW.value
DEFAULT_EPSILON = DEFAULT_EPSILON_PER_RELEASE
DELTA = 0.0
# Below this an ε is a typo (and its noise scale overflows), not a policy.
MIN_EPSILON = 0.001
MECHANISM = Mechanism.DISCRETE_LAPLACE.value
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
    """The deployment's thresholds: the default k of new cohorts, and the contributor
    minimum every release also needs. Both are stored with each release."""

    k_min: int = DEFAULT_K
    min_contributors: int = DEFAULT_MIN_CONTRIBUTORS
