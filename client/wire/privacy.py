"""The privacy parameters a deployment starts from, in one typed place.

The client's config and budget, the noise, the aggregators' cohort defaults and the privacy
review all read these values; docs/privacy.md explains them. The per-field bounds and the
split of ε over the fields live beside the fields in `measurement`.
"""

from __future__ import annotations

from enum import StrEnum

from worktally.client.wire.windows import WindowKind


class Mechanism(StrEnum):
    """The noise distributions the wire format knows."""

    DISCRETE_LAPLACE = "discrete_laplace"


# A person spends at most this much ε per budget year (see windows.Window.budget_year); the
# developer may lower it, nothing raises it.
YEARLY_EPSILON_CAP = 16.0
# A cohort's default policy: one release per quarter at ε = 4 (the yearly cap over four).
DEFAULT_RELEASE_WINDOW = WindowKind.QUARTER
DEFAULT_EPSILON_PER_RELEASE = 4.0
# The most ε one release may spend that a client accepts unless its developer says otherwise
# (`report.epsilon`); above the default policy, so an unconfigured client can enroll.
DEFAULT_EPSILON_CEILING = 8.0
# δ is 0 throughout: discrete Laplace gives pure ε-differential privacy.
DELTA = 0.0

# Local mode: a noised value farther than this many noise scales outside its bounds is not
# something the mechanism produces (probability below e^-60), so the aggregator refuses it.
ACCEPTED_SCALES = 60
