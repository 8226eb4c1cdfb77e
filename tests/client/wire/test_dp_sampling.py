"""The aggregators' noise: OpenDP draws with each coordinate's scale, spread over the entries."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from worktally.client.wire import dp_sampling as noise
from worktally.client.wire import measurement as wire_measurement
from worktally.client.wire.discrete_laplace import DiscreteLaplace
from worktally.client.wire.measurement import (
    Coordinate,
    coordinates,
    entry_noise,
    released_coordinates,
)

SAMPLES = 2000
SIGMAS = 5.0


def test_one_draw_per_coordinate_with_its_scale() -> None:
    """The empirical distribution of the gate count's draws matches its exact pmf.

    P(draw = 0) and P(|draw| <= 2) are checked to five binomial standard errors: a correct
    sampler fails about once in a million runs; a scale off by 20% moves P(0) by about 7 standard
    errors.
    """
    coords = coordinates(4.0)
    rows = [noise.draw(coords) for _ in range(SAMPLES)]
    assert all(len(row) == len(coords) and all(isinstance(x, int) for x in row)
               for row in rows)
    gate = DiscreteLaplace(coords[0].scale)
    for q in (0, 2):
        expected = gate.coverage(q)
        seen = sum(abs(row[0]) <= q for row in rows) / SAMPLES
        assert abs(seen - expected) <= SIGMAS * math.sqrt(expected * (1 - expected) / SAMPLES)
    # A volume's draws are on its own, much larger scale (and centred on 0).
    tokens = [row[5] for row in rows]
    spread = DiscreteLaplace(coords[5].scale).abs_quantile(0.5)
    assert 0.8 * spread < sorted(abs(x) for x in tokens)[SAMPLES // 2] < 1.25 * spread
    assert abs(sum(tokens) / SAMPLES) < SIGMAS * math.sqrt(2) * coords[5].scale / math.sqrt(
        SAMPLES)


def test_the_entry_vector_decodes_to_one_draw_per_coordinate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[list[int]] = []
    real_draw = noise.draw

    def recording_draw(coords: list[Coordinate]) -> list[int]:
        taken.append(real_draw(coords))
        return taken[-1]

    monkeypatch.setattr(noise, "draw", recording_draw)
    vector = noise.entry_noise_vector(4.0)
    assert len(taken) == 1
    assert vector == entry_noise(taken[0])
    assert released_coordinates(vector) == taken[0]


def test_each_release_draws_afresh() -> None:
    # The volume coordinates have scales in the thousands: two equal vectors would mean
    # the sampler is not sampling.
    assert noise.entry_noise_vector(4.0) != noise.entry_noise_vector(4.0)


def test_a_coordinate_that_would_overspend_is_refused() -> None:
    honest = coordinates(4.0)[1]
    greedy = Coordinate(honest.metric, honest.sensitivity, honest.epsilon / 2, honest.scale)
    with pytest.raises(noise.NoiseCalibrationError, match="shipped_token_share_pm"):
        noise.draw([greedy])


def test_no_noise_source_uses_python_random() -> None:
    sources = [Path(noise.__file__), *Path(wire_measurement.__file__).parent.glob("*.py")]
    for source in sources:
        text = source.read_text(encoding="utf-8")
        assert "import random" not in text and "from random" not in text, source.name
