"""Isotonic calibration against scikit-learn, its properties, JSON form, and the ECE."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression

from driftd.stats.calibration import (
    Calibration,
    IsotonicCurve,
    expected_calibration_error,
    fit_calibration,
    fit_isotonic,
)


def calibrated_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores uniform on [0, 1] and labels drawn with P(y = 1) = score."""
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    return scores, (rng.random(n) < scores).astype(np.int64)


@pytest.mark.parametrize(("n", "seed", "rounding"), [(50, 1, None), (2000, 2, None),
                                                     (5000, 3, 2), (200_000, 4, None)])
def test_plain_isotonic_equals_scikit_learn(n: int, seed: int, rounding: int | None) -> None:
    """Steps: fit with min_block_size=1 (continuous scores, and scores rounded to 2 digits
    so that ties pool), and sklearn's IsotonicRegression(out_of_bounds="clip") on the
    same data. Expected: the same predictions (to 1e-12) at every fitted point, between
    them and outside the fitted range."""
    scores, labels = calibrated_sample(n, seed)
    if rounding is not None:
        scores = np.round(scores, rounding)
    curve = fit_isotonic(scores, labels, min_block_size=1)
    sk = IsotonicRegression(out_of_bounds="clip").fit(scores, labels)
    probe = np.concatenate([sk.X_thresholds_, np.linspace(-0.5, 1.5, 4001), scores[:500]])
    np.testing.assert_allclose(curve(probe), sk.predict(probe), rtol=0, atol=1e-12)
    assert curve.x[0] == scores.min() and curve.x[-1] == scores.max()


def test_small_sample_blocks_hold_the_minimum_rows() -> None:
    """Steps: 300 calibrated rows, default min_block_size (20). Expected: every constant
    level of the curve covers at least 20 of the rows, the curve is never exactly 0 or 1
    at the ends (plain isotonic regression is: 0.0 and 1.0), and it has fewer levels."""
    scores, labels = calibrated_sample(300, 7)
    curve = fit_isotonic(scores, labels)
    plain = fit_isotonic(scores, labels, min_block_size=1)
    levels = np.unique(curve.y)
    fitted = curve(scores)
    assert min(int(np.sum(fitted == level)) for level in levels) >= 20
    assert 0.0 < curve.y[0] and curve.y[-1] < 1.0
    assert (plain.y[0], plain.y[-1]) == (0.0, 1.0)
    assert len(levels) < len(np.unique(plain.y))


def test_fewer_rows_than_the_minimum_is_one_block() -> None:
    """Steps: 5 rows, min_block_size 20. Expected: one level, the mean label (0.6)."""
    curve = fit_isotonic([0.1, 0.2, 0.3, 0.4, 0.5], [0, 1, 1, 0, 1])
    assert curve.x == (0.1, 0.5) and curve.y == (0.6, 0.6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=200),
       st.integers(1, 30))
def test_curve_is_monotone_in_unit_interval(rows: list[tuple[float, bool]],
                                            min_block: int) -> None:
    """Property: for any data and block size the fitted map is non-decreasing, in [0, 1],
    and its mean over the training rows equals the mean label (isotonic regression
    preserves the total)."""
    scores = np.array([r[0] for r in rows])
    labels = np.array([r[1] for r in rows], dtype=np.float64)
    curve = fit_isotonic(scores, labels, min_block_size=min_block)
    grid = np.linspace(-0.1, 1.1, 301)
    values = curve(grid)
    assert (np.diff(values) >= 0).all() and values.min() >= 0 and values.max() <= 1
    assert curve(scores).mean() == pytest.approx(labels.mean(), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=100),
       st.integers(1, 10))
def test_json_round_trip_is_exact(rows: list[tuple[float, bool]], min_block: int) -> None:
    """Property: to_json -> json text -> from_json gives an equal calibration, and the
    stored points are compact (x strictly increasing, no level repeated on 3 points)."""
    scores = [r[0] for r in rows]
    labels = [int(r[1]) for r in rows]
    cal = fit_calibration(scores, labels, min_block_size=min_block)
    back = Calibration.from_json(json.loads(json.dumps(cal.to_json())))
    assert back == cal
    y = np.array(cal.curves[0].y)
    assert not ((y[:-2] == y[1:-1]) & (y[1:-1] == y[2:])).any()


def test_calibrated_scores_give_near_identity() -> None:
    """Steps: 200,000 calibrated rows, default fit. Expected: the curve within 0.03 of
    the identity on [0.05, 0.95] and its ECE below 0.005 (the raw scores' too)."""
    scores, labels = calibrated_sample(200_000, 11)
    cal = fit_calibration(scores, labels)
    grid = np.linspace(0.05, 0.95, 91)
    assert np.abs(cal.apply(grid) - grid).max() < 0.03
    assert expected_calibration_error(cal.apply(scores), labels) < 0.005
    assert expected_calibration_error(scores, labels) < 0.005


def test_distorted_scores_are_repaired() -> None:
    """Steps: calibrated probabilities p, emitted scores p ** 3 (too low). Expected: the
    raw ECE is large (0.25 to 2 digits: the mean of p - p ** 3), the calibrated ECE on
    fresh data below 0.01, and the curve maps p ** 3 back to p within 0.05 (a block's
    noise) on [0.1, 0.9]."""
    p, labels = calibrated_sample(100_000, 12)
    cal = fit_calibration(p ** 3, labels)
    assert round(expected_calibration_error(p ** 3, labels), 2) == 0.25
    fresh, fresh_labels = calibrated_sample(100_000, 13)
    assert expected_calibration_error(cal.apply(fresh ** 3), fresh_labels) < 0.01
    grid = np.linspace(0.1, 0.9, 81)
    assert np.abs(cal.apply(grid ** 3) - grid).max() < 0.05


def test_multiclass_one_vs_rest_rows_sum_to_one() -> None:
    """Steps: 3 classes, true probabilities from a softmax, emitted scores a sharpened
    softmax (temperature 1/2, over-confident). Expected: each class's curve equals
    fit_isotonic on its own column; calibrated rows sum to 1; the top-label ECE falls
    from over 0.05 to below 0.01 on fresh rows."""
    rng = np.random.default_rng(21)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        logits = rng.normal(size=(n, 3)) * 1.5
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
        sharp = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
        return sharp, labels

    scores, labels = draw(60_000)
    cal = fit_calibration(scores, labels)
    for k in range(3):
        assert cal.curves[k] == fit_isotonic(scores[:, k], labels == k)
    fresh, fresh_labels = draw(60_000)
    calibrated = cal.apply(fresh)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert expected_calibration_error(fresh, fresh_labels) > 0.05
    assert expected_calibration_error(calibrated, fresh_labels) < 0.01


def test_ece_equals_its_definition() -> None:
    """Steps: 1,000 random probabilities and labels, 10 bins. Expected: the value a loop
    over the bins [0, .1), ..., [.9, 1] gives, to 1e-12; a score of exactly 1.0 lands in
    the last bin."""
    rng = np.random.default_rng(31)
    p = np.append(rng.random(999), 1.0)
    y = (rng.random(1000) < 0.4).astype(np.int64)
    expected = 0.0
    for b in range(10):
        inside = (p >= b / 10) & ((p < (b + 1) / 10) if b < 9 else (p <= 1.0))
        if inside.any():
            expected += inside.mean() * abs(y[inside].mean() - p[inside].mean())
    assert expected_calibration_error(p, y) == pytest.approx(expected, abs=1e-12)


def test_apply_keeps_nan_and_checks_shapes() -> None:
    """Steps: apply a binary calibration to NaN and to a 2-D array; a multiclass one to
    the wrong width. Expected: NaN stays NaN; each wrong shape is a ValueError."""
    binary = fit_calibration([0.2, 0.8], [0, 1], min_block_size=1)
    assert np.isnan(binary.apply([np.nan])[0])
    with pytest.raises(ValueError, match="one-dimensional"):
        binary.apply([[0.2, 0.8]])
    multi = fit_calibration([[0.9, 0.1], [0.2, 0.8]], [0, 1], min_block_size=1)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        multi.apply([[0.3, 0.3, 0.4]])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scores": [], "labels": []}, "non-empty"),
    ({"scores": [0.1, np.nan], "labels": [0, 1]}, "finite"),
    ({"scores": [0.1, 0.2], "labels": [0, 2]}, "0 or 1"),
    ({"scores": [[0.5, 0.5]], "labels": [3]}, r"\[0, 2\)"),
    ({"scores": [0.1], "labels": [0], "min_block_size": 0}, "min_block_size"),
])
def test_invalid_inputs_name_the_parameter(kwargs: dict[str, object], message: str) -> None:
    """Each invalid argument is a ValueError that names what is wrong."""
    with pytest.raises(ValueError, match=message):
        fit_calibration(**kwargs)  # type: ignore[arg-type]


def test_from_json_rejects_a_non_monotone_curve() -> None:
    """A stored curve that decreases, or an unknown method, is refused on load."""
    with pytest.raises(ValueError, match="non-decreasing"):
        Calibration.from_json({"method": "isotonic", "curves": [{"x": [0, 1], "y": [1, 0]}]})
    with pytest.raises(ValueError, match="method"):
        Calibration.from_json({"method": "platt", "curves": []})
    with pytest.raises(ValueError, match="strictly increasing"):
        IsotonicCurve((0.5, 0.5), (0.1, 0.2))
