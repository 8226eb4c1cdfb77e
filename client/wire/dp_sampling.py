"""Noise for a release: one OpenDP discrete Laplace draw per released coordinate, spread
over the report's entries as `measurement.entry_noise` defines.

In secure mode an aggregator draws once per batch (the helper always; the leader too when
the task says noise_copies == 2) and stores the result, so a repeated collection returns the
same noisy share. In local mode (the single-server fallback) each client draws once for its
own report. OpenDP's privacy map, not our arithmetic, certifies each coordinate's ε;
Python's `random` is never used for noise.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import opendp.prelude as dp

from worktally.client.wire.errors import WireError
from worktally.client.wire.measurement import Coordinate, coordinates, entry_noise

dp.enable_features("contrib")

# OpenDP's map may exceed the nominal ε by float rounding; more than this means a bug.
EPSILON_SLACK = 1e-9


class NoiseCalibrationError(WireError):
    """A coordinate's noise would spend more ε than the release grants (a bug, not bad input)."""


@functools.lru_cache(maxsize=64)
def _mechanism(scale: float, sensitivity: int, epsilon: float, metric: str) -> dp.Measurement:
    """The certified sampler for one coordinate (built and checked once per parameters)."""
    # i64: a volume's noise at a small ε overflows OpenDP's default i32.
    mechanism = dp.m.make_laplace(dp.atom_domain(T="i64"), dp.absolute_distance(T="i64"),
                                  scale=scale)
    spent = float(mechanism.map(sensitivity))
    if spent > epsilon * (1 + EPSILON_SLACK):
        raise NoiseCalibrationError(f"{metric}: noise of scale {scale} spends ε={spent}, "
                                    f"over its {epsilon}")
    return mechanism


def draw(coords: Sequence[Coordinate]) -> list[int]:
    """One discrete Laplace draw per coordinate, each with that coordinate's scale."""
    return [int(_mechanism(c.scale, c.sensitivity, c.epsilon, c.metric)(0)) for c in coords]


def entry_noise_vector(epsilon_release: float) -> list[int]:
    """The per-entry noise for one aggregate share (or, in local mode, one report) of a
    release at `epsilon_release`."""
    return entry_noise(draw(coordinates(epsilon_release)))
