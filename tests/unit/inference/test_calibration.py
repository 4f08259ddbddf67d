"""The training-time numbers that decide what is auto-approved: the 99 %-precision threshold, the
temperature, the calibration error. Numpy only (no torch), so CI runs them; serving approves a
photo when its calibrated confidence is ``>= auto_approve_threshold`` (streams.routing)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inference import train


def _probs(confidences: list[float], right: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Two-class probabilities with the given top confidences; class 0 is predicted, and the
    label says whether that was right."""
    conf = np.asarray(confidences, dtype=np.float32)
    probs = np.stack([conf, 1 - conf], axis=1)
    y = np.where(np.asarray(right), 0, 1).astype(np.int64)
    return probs, y


# Few distinct confidence values, so ties (saturated softmax outputs are exactly 1.0) are common.
_CONF = st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_CONF, st.booleans()), min_size=1, max_size=120),
       st.sampled_from([0.5, 0.8, 0.9, 0.99]), st.integers(1, 20))
def test_threshold_keeps_its_promise_on_the_photos_it_was_set_on(
    photos: list[tuple[float, bool]], target: float, min_selected: int
) -> None:
    """What serving approves with the threshold (every photo at or above it, ties included) is
    at least ``target`` correct and at least ``min_selected`` photos; and no lower threshold
    would also keep that promise."""
    probs, y = _probs([c for c, _ in photos], [r for _, r in photos])
    threshold = train.precision_threshold(probs, y, target=target, min_selected=min_selected)
    chosen = train.coverage_at(probs, y, threshold)
    if threshold < 1.0:  # 1.0 approves nothing (streams.routing)
        assert chosen["n_selected"] >= min_selected
        assert chosen["precision"] >= target
    lower = sorted({float(c) for c in probs.max(1) if c < threshold})
    for candidate in lower:
        at = train.coverage_at(probs, y, candidate)
        assert at["n_selected"] < min_selected or at["precision"] < target, candidate


def test_a_threshold_of_one_approves_nothing_as_served() -> None:
    # 60 saturated, all right: precise enough, but 1.0 means "approve nothing" (streams.routing)
    probs, y = _probs([1.0] * 60 + [0.9] * 60, [True] * 60 + [True, False] * 30)
    assert train.precision_threshold(probs, y, target=0.99, min_selected=10) == 1.0
    assert train.coverage_at(probs, y, 1.0)["n_selected"] == 0


def test_threshold_is_one_when_nothing_is_precise_enough() -> None:
    probs, y = _probs([0.9] * 60, [True] * 30 + [False] * 30)
    assert train.precision_threshold(probs, y, target=0.99, min_selected=10) == 1.0


def test_threshold_needs_enough_photos() -> None:
    # the 5 most confident are right, the rest half right: 5 photos cannot set a threshold of 50
    probs, y = _probs([0.99] * 5 + [0.6] * 100, [True] * 5 + [True, False] * 50)
    assert train.precision_threshold(probs, y, target=0.99, min_selected=50) == 1.0
    assert train.precision_threshold(probs, y, target=0.99, min_selected=5) == np.float32(0.99)


def test_fitted_temperature_recovers_the_one_the_labels_were_drawn_with() -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 4, size=(6000, 10)).astype(np.float32)
    true_t = 2.0
    p = train.softmax(logits, true_t).astype(np.float64)
    y = np.array([rng.choice(10, p=row / row.sum()) for row in p], dtype=np.int64)
    t = train.fit_temperature(logits, y)
    assert abs(math.log(t / true_t)) < 0.1, t
    # calibrated at the fitted temperature, overconfident at T = 1
    assert train.ece(train.softmax(logits, t), y) < 0.03
    assert train.ece(train.softmax(logits, 1.0), y) > 0.1
