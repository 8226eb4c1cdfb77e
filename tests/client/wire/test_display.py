"""The display rule: a clamped estimate is marked, an uninformative one says what it needs, the
digits follow the interval, and the JSON reads back to the same figure."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from worktally.client.wire.display import CLAMP_MARK, Figure, clamp
from worktally.client.wire.noise_model import LOCAL, estimate_release


def test_a_clamped_estimate_is_marked_and_keeps_its_raw_value() -> None:
    figure = Figure.of(0.0, -41.37, 0.0, 412.2, 250.0, True, 90)
    assert figure.clamped and figure.value_text == f"0{CLAMP_MARK}"
    assert figure.text == "0* [0, 412]"
    data = figure.to_json()
    assert data["raw"] == -41.37 and data["estimate"] == 0.0 and data["clamped"] is True
    assert data["shown"] == "0* [0, 412]" and data["note"] == ""


def test_an_estimate_inside_its_range_is_not_marked() -> None:
    figure = Figure.of(318.4, 318.4, 224.0, 409.6, 92.8, True, 40)
    assert not figure.clamped and figure.text == "318 [224, 410]"


def test_an_uninformative_figure_says_how_many_people_it_needs() -> None:
    figure = Figure.of(500.0, 500.0, 0.0, 1000.0, 2400.0, False, 1924)
    assert figure.note == "needs about 1,924 people"
    assert figure.to_json()["informative"] is False
    assert Figure.of(5.0, 5.0, 0.0, 10.0, math.inf, False, None).note == \
        "interval too wide to say much"


@pytest.mark.parametrize(("half", "values", "text"), [
    (math.inf, (12.25, 0.0, 40.0), "12 [0, 40]"),
    (14.0, (12.25, 0.0, 26.5), "12 [0, 26]"),
    (3.0, (13.0, 10.0, 16.0), "13 [10, 16]"),  # whole numbers: a count of people
    (3.0, (12.25, 9.25, 15.25), "12.2 [9.2, 15.2]"),
    (0.4, (1.234, 0.834, 1.634), "1.23 [0.83, 1.63]"),
])
def test_digits_follow_the_interval(half: float, values: tuple[float, float, float],
                                    text: str) -> None:
    estimate, low, high = values
    assert Figure.of(estimate, estimate, low, high, half, True, 1).text == text


def test_json_has_no_infinity() -> None:
    data = Figure.of(1.0, 1.0, 0.0, 3.0, math.inf, False, None).to_json()
    assert data["half_width"] is None and "people_needed" not in data


@given(raw=st.floats(-1e6, 1e6), low=st.floats(0, 500), high=st.floats(500, 1000),
       half=st.floats(0.01, 1e5), informative=st.booleans(),
       needed=st.none() | st.integers(1, 10**6))
def test_json_reads_back_to_the_same_figure(raw: float, low: float, high: float, half: float,
                                             informative: bool, needed: int | None) -> None:
    moved = abs(raw - clamp(raw, 0, 1000))
    assume(moved == 0 or moved > 1e-6)  # round-off is not clamping
    figure = Figure.of(clamp(raw, 0, 1000), raw, low, high, half, informative, needed)
    back = Figure.from_json(figure.to_json())
    assert back.text == figure.text and back.note == figure.note
    assert back.clamped == figure.clamped == (raw < 0 or raw > 1000)


def test_the_noise_model_clamps_by_the_rule() -> None:
    # A share far below its range (noise pulled the centred sum down): the released value is
    # the range's edge, the raw value is kept, and the rule marks it.
    coordinates = [10, -30_000, 0, 10, 0, 0, 0, 0]
    share = estimate_release(coordinates, 10, 4.0, LOCAL)["shipped_token_share_pm"]
    figure = Figure.of(share.value, share.raw, share.low, share.high, share.half_width,
                       share.informative, share.people_needed)
    assert share.raw < 0 and share.value == 0.0 == clamp(share.raw, 0, 1000)
    assert figure.clamped and figure.value_text.endswith(CLAMP_MARK)
