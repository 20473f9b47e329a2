from __future__ import annotations

import numpy as np
import pytest

from cfl.gp import GaussianProcess
from cfl.improvement import ExpectedImprovement, HypervolumeImprovement
from cfl.warping import power_warp

# four evaluated rows; outcomes (higher is better): three on a front, one dominated
X = np.array([[0.1, 0.1], [0.4, 0.5], [0.8, 0.2], [0.5, 0.9]])
VALUES = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [0.5, 0.5]])
ALL = np.ones(4, dtype=bool)


def _fit(feasible: np.ndarray = ALL) -> HypervolumeImprovement:
    return HypervolumeImprovement.fit(X, VALUES, feasible)


def test_front_is_the_feasible_posterior_means_and_the_reference_lies_below_them() -> None:
    term = _fit()
    means = np.column_stack([m.to_original(m.predict(X)[0]) for m in term.models])
    warped = np.column_stack([power_warp(VALUES[:, j]) for j in range(2)])
    np.testing.assert_allclose(means, warped, atol=0.05)  # the GPs interpolate the warped data
    assert np.all(np.diff(means[[3, 0, 1, 2], 0]) > 0)  # the warp keeps the order
    assert len(term.front) == 4 and term.ready
    # 10 % of each objective's range below its worst mean, in standardised units
    z = term.front
    np.testing.assert_allclose(term.reference, z.min(0) - 0.1 * (z.max(0) - z.min(0)))


def test_leaders_are_front_rows_by_exclusive_hypervolume() -> None:
    # in warped units (-0.71, 1.21), (0.37, 0.37), (1.21, -0.71) and the dominated (-1.36, -1.36),
    # reference 10 % of the range below the worst: (0.37, 0.37) holds 1.17 alone, the ends 0.76
    leaders = _fit().leaders(X, ALL)
    assert leaders.tolist() == [X[1].tolist(), X[0].tolist(), X[2].tolist()]


def test_infeasible_rows_neither_lead_nor_set_the_front() -> None:
    feasible = np.array([True, False, True, True])
    term = _fit(feasible)
    assert len(term.front) == 3
    assert X[1].tolist() not in term.leaders(X, feasible).tolist()
    assert not HypervolumeImprovement.fit(X, VALUES, ~ALL).ready


def test_believing_a_row_puts_its_mean_on_the_front_and_lowers_its_value() -> None:
    term = _fit()
    row = np.array([[0.6, 0.35]])
    before, _ = term.log_value(row, False)
    believed = term.believe(row)
    after, _ = believed.log_value(row, False)
    assert len(believed.front) == 5
    assert after[0] < before[0] - 2  # little variance left there, and it is on the front
    np.testing.assert_allclose(believed.reference, term.reference)


def test_hypervolume_gradient_matches_finite_differences() -> None:
    term = _fit()
    rows = np.array([[0.6, 0.35], [0.3, 0.3], [0.9, 0.7]])
    value, grad = term.log_value(rows, True)
    h = 1e-6
    for j in range(2):
        step = np.zeros_like(rows)
        step[:, j] = h
        numeric = (term.log_value(rows + step, False)[0] - value) / h
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-3, atol=1e-3)


def test_expected_improvement_is_over_the_best_feasible_mean() -> None:
    y = np.array([1.0, 4.0, 2.0, 3.0])
    model = GaussianProcess.fit(X, y)
    feasible = np.array([True, False, True, True])
    term = ExpectedImprovement.fit(model, X, feasible)
    means = model.predict(X)[0]
    assert term.incumbent == pytest.approx(means[3])  # the infeasible 4.0 does not count
    assert term.leaders(X, feasible).tolist() == [
        X[3].tolist(),
        X[2].tolist(),
        X[0].tolist(),
        X[1].tolist(),
    ]
    assert not ExpectedImprovement.fit(model, X, ~ALL).ready
