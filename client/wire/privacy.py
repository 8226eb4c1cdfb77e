"""The privacy parameters a deployment starts from, in one typed place.

The client's config, its noise, the aggregator's cohort defaults and the privacy review all
read these values; docs/privacy.md explains them. The per-metric bounds live beside the
metrics in `schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from worktally.client.wire.windows import WindowKind


class Mechanism(StrEnum):
    """The noise distributions the wire format knows."""

    DISCRETE_LAPLACE = "discrete_laplace"


class PeriodKind(StrEnum):
    ISO_WEEK = "iso-week"


@dataclass(frozen=True)
class PrivacyParameters:
    """ε and δ per person per period, and the mechanism that spends them."""

    epsilon: float
    delta: float
    mechanism: Mechanism
    period: PeriodKind


# The per-person, per-ISO-week budget a cohort asks for by default (docs/privacy.md says why
# it is this large under local noise, and what it means).
DEFAULT_PRIVACY = PrivacyParameters(
    epsilon=8.0, delta=0.0, mechanism=Mechanism.DISCRETE_LAPLACE, period=PeriodKind.ISO_WEEK)

# A noised value farther than this many noise scales outside the clipping bounds is not
# something the mechanism produces (probability below e^-60), so the aggregator rejects it.
ACCEPTED_SCALES = 60

# Secure mode (schema v2). A person spends at most this much ε per budget year (see
# windows.Window.budget_year); the developer may lower it, nothing raises it.
YEARLY_EPSILON_CAP = 16.0
# A cohort's default policy: one release per quarter at ε = 4 (the yearly cap over four).
DEFAULT_RELEASE_WINDOW = WindowKind.QUARTER
DEFAULT_EPSILON_PER_RELEASE = 4.0
