"""Jensen-Shannon distance (base 2) against scipy.spatial.distance.jensenshannon."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from driftd.stats import js_distance


@st.composite
def count_pairs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    size = draw(st.integers(1, 12))
    ref = draw(st.lists(st.integers(0, 1000), min_size=size, max_size=size))
    cur = draw(st.lists(st.integers(0, 1000), min_size=size, max_size=size))
    if sum(ref) == 0:
        ref[0] = 1
    if sum(cur) == 0:
        cur[-1] = 1
    return ref, cur


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        ([50, 30, 20], [40, 30, 30]),
        ([1000, 0, 3], [0, 10, 990]),  # empty bins on either side
        ([1, 1, 1, 1], [1, 1, 1, 1]),
        ([7, 0], [0, 3]),  # disjoint supports
        ([0.2, 0.8], [0.5, 0.5]),  # proportions are fine too
    ],
)
def test_matches_scipy_base_2(ref: list[float], cur: list[float]) -> None:
    expected = jensenshannon(np.array(ref, float), np.array(cur, float), base=2)
    assert js_distance(ref, cur) == pytest.approx(expected, abs=1e-12)


def test_disjoint_supports_are_at_distance_one_and_scaling_does_not_matter() -> None:
    assert js_distance([7, 0], [0, 3]) == pytest.approx(1.0, abs=1e-15)
    assert js_distance([1, 2, 3], [10, 20, 30]) == 0.0


@given(count_pairs())
def test_distance_is_in_unit_interval_symmetric_and_agrees_with_scipy(
    pair: tuple[list[int], list[int]],
) -> None:
    ref, cur = pair
    value = js_distance(ref, cur)
    assert 0.0 <= value <= 1.0
    assert js_distance(cur, ref) == pytest.approx(value, abs=1e-12)
    expected = jensenshannon(np.array(ref, float), np.array(cur, float), base=2)
    assert value == pytest.approx(expected, abs=1e-12)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(lambda c: sum(c) > 0))
def test_identical_distributions_are_at_distance_zero(counts: list[int]) -> None:
    assert js_distance(counts, counts) == 0.0


def test_invalid_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="positive totals"):
        js_distance([0, 0], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        js_distance([1], [1, 1])
