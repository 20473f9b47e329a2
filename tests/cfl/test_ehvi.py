from __future__ import annotations

import numpy as np
import pytest

from cfl.ehvi import hypervolume_improvement, log_ehvi, non_dominated_boxes
from cfl.pareto import hypervolume

FRONT = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [0.5, 0.5]])
REFERENCE = np.zeros(2)


def test_two_objective_boxes_are_the_staircase_under_the_front() -> None:
    lower, upper = non_dominated_boxes(FRONT, REFERENCE)
    # (0.5, 0.5) is dominated; three front points leave four boxes
    np.testing.assert_allclose(lower, [[0, 3], [1, 2], [2, 1], [3, 0]])
    np.testing.assert_allclose(upper, [[1, np.inf], [2, np.inf], [3, np.inf], [np.inf, np.inf]])


def test_improvement_is_the_hypervolume_gained() -> None:
    lower, upper = non_dominated_boxes(FRONT, REFERENCE)
    # HV(front) = 3 + 2 + 1 = 6; with (2.5, 2.5): 3 + 1.5 * 2.5 + 0.5 * 1 = 7.25
    outcomes = np.array([[2.5, 2.5], [1.5, 1.5], [4.0, 0.5], [-1.0, 5.0]])
    np.testing.assert_allclose(
        hypervolume_improvement(outcomes, lower, upper), [1.25, 0.0, 0.5, 0.0], atol=1e-12
    )


@pytest.mark.parametrize("m", [2, 3])
def test_improvement_matches_the_exact_hypervolume_difference(m: int) -> None:
    rng = np.random.default_rng(m)
    front = rng.random((7, m))
    reference = np.full(m, -0.2)
    lower, upper = non_dominated_boxes(front, reference)
    outcomes = rng.random((40, m)) * 1.5 - 0.3
    exact = [
        hypervolume(np.vstack([front, y]), reference) - hypervolume(front, reference)
        for y in outcomes
    ]
    np.testing.assert_allclose(hypervolume_improvement(outcomes, lower, upper), exact, atol=1e-12)


def test_an_empty_front_leaves_one_box_above_the_reference() -> None:
    lower, upper = non_dominated_boxes(np.empty((0, 2)), np.array([1.0, -1.0]))
    np.testing.assert_allclose(lower, [[1.0, -1.0]])
    assert np.all(np.isinf(upper))


def test_log_ehvi_is_the_mean_improvement_over_the_posterior() -> None:
    lower, upper = non_dominated_boxes(FRONT, REFERENCE)
    # near the front, behind it, and far inside the dominated region
    mean = np.array([[2.5, 2.5], [1.8, 1.8], [1.0, 1.0], [0.5, 0.2]])
    std = np.array([[0.3, 0.2], [0.4, 0.4], [0.5, 0.5], [0.3, 0.3]])
    value, _, _ = log_ehvi(mean, std, lower, upper)
    draws = np.random.default_rng(1).standard_normal((1_000_000, 2))
    for i in range(3):
        expected = hypervolume_improvement(mean[i] + std[i] * draws, lower, upper).mean()
        assert np.exp(value[i]) == pytest.approx(expected, rel=0.01)
    # the last one's improvement needs a 4-sigma draw: Monte Carlo sees none, the formula does
    assert -40 < value[3] < np.log(1e-5)


def test_one_box_by_hand() -> None:
    # y ~ N(0, 1) in each objective, box [0, 1] x [0, inf):
    # E clamp(y, 0, 1) = h(0) - h(-1) = φ(0) - (φ(1) - Φ(-1)) and E max(y, 0) = φ(0)
    phi0, phi1, cdf_m1 = 0.3989422804014327, 0.24197072451914337, 0.15865525393145707
    value, _, _ = log_ehvi(
        np.zeros((1, 2)), np.ones((1, 2)), np.array([[0.0, 0.0]]), np.array([[1.0, np.inf]])
    )
    assert np.exp(value[0]) == pytest.approx((phi0 - phi1 + cdf_m1) * phi0, rel=1e-12)


def test_log_ehvi_without_uncertainty_is_the_log_improvement() -> None:
    lower, upper = non_dominated_boxes(FRONT, REFERENCE)
    value, _, _ = log_ehvi(np.array([[2.5, 2.5]]), np.full((1, 2), 1e-9), lower, upper)
    assert value[0] == pytest.approx(np.log(1.25), abs=1e-6)


def test_log_ehvi_gradients_match_finite_differences() -> None:
    lower, upper = non_dominated_boxes(FRONT, REFERENCE)
    mean = np.array([[2.2, 2.4], [3.1, 0.9], [0.8, 2.0], [0.2, 0.3], [5.0, 5.0]])
    std = np.array([[0.3, 0.2], [0.4, 0.6], [0.2, 0.5], [0.1, 0.1], [0.2, 0.2]])
    _, dmean, dstd = log_ehvi(mean, std, lower, upper)
    h = 1e-7
    for j in range(2):
        step = np.zeros_like(mean)
        step[:, j] = h
        up, down = (
            log_ehvi(mean + step, std, lower, upper)[0],
            log_ehvi(mean - step, std, lower, upper)[0],
        )
        np.testing.assert_allclose(dmean[:, j], (up - down) / (2 * h), rtol=1e-5, atol=1e-6)
        up, down = (
            log_ehvi(mean, std + step, lower, upper)[0],
            log_ehvi(mean, std - step, lower, upper)[0],
        )
        np.testing.assert_allclose(dstd[:, j], (up - down) / (2 * h), rtol=1e-5, atol=1e-6)
    assert np.all(dmean[3] > 0)  # deep in the dominated region the gradient still points out


def test_log_ehvi_stays_finite_far_from_the_boxes_and_at_tiny_spreads() -> None:
    lower, upper = non_dominated_boxes(FRONT, REFERENCE)
    mean = np.array([[120.0, -213.0], [0.0001, 0.0006], [-1e4, 5e3], [3.5, 0.5]])
    std = np.array([[7e-5, 3e-6], [3.5e-6, 0.8], [2e-6, 35.0], [1.6e-5, 2.6e-6]])
    value, dmean, dstd = log_ehvi(mean, std, lower, upper)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(dmean)) and np.all(np.isfinite(dstd))
    # (3.5, 0.5) with next to no spread adds the box beyond (3, 1): (3.5 - 3) * (0.5 - 0)
    assert value[3] == pytest.approx(np.log(0.25), abs=1e-6)
