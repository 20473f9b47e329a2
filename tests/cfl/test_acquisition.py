from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cfl.acquisition import (
    expected_improvement,
    log_expected_improvement,
    log_h,
    log_probability_feasible,
)


def test_log_ei_equals_log_of_closed_form_ei_where_both_are_stable() -> None:
    mean = np.array([0.1, -0.5, -3.0, 2.0, 0.2])
    std = np.array([1.0, 0.3, 0.5, 0.1, 2.0])
    log_ei, _, _ = log_expected_improvement(mean, std, 0.2)
    np.testing.assert_allclose(log_ei, np.log(expected_improvement(mean, std, 0.2)), rtol=1e-9)


def test_ei_by_hand_at_the_incumbent() -> None:
    # z = 0: EI = σ φ(0) = σ / √(2π)
    log_ei, _, _ = log_expected_improvement(np.array([1.0]), np.array([2.0]), 1.0)
    assert math.exp(log_ei[0]) == pytest.approx(2 / math.sqrt(2 * math.pi))


def test_log_ei_stays_finite_where_ei_underflows() -> None:
    mean, std = np.array([-40.0, -1e6]), np.array([1.0, 1.0])
    with np.errstate(divide="ignore"):
        assert np.all(np.log(expected_improvement(mean, std, 0.0)) == -np.inf)
    log_ei, d_mean, _ = log_expected_improvement(mean, std, 0.0)
    assert np.all(np.isfinite(log_ei)) and np.all(np.isfinite(d_mean)) and np.all(d_mean > 0)
    # far tail: log h(z) ≈ -z²/2 - log√(2π) - 2 log|z| (Ament et al. 2023)
    assert log_ei[0] == pytest.approx(
        -800 - 0.5 * math.log(2 * math.pi) - 2 * math.log(40), rel=1e-3
    )


def test_log_h_is_continuous_across_its_branches() -> None:
    z = np.array([-1 - 1e-9, -1 + 1e-9, -6.7e7, -6.8e7])
    values = log_h(z)
    assert values[0] == pytest.approx(values[1], rel=1e-6)
    assert values[2] == pytest.approx(values[3], rel=0.05)


def test_log_h_far_out_is_finite_and_on_the_asymptote() -> None:
    # -6.68e7 sits just inside the middle branch, where rounding used to give NaN
    z = np.array([-1e5, -1e6, -3e6, -6.68e7, -1e8, -1e9]).reshape(2, 3)
    asymptote = -0.5 * z * z - 0.5 * math.log(2 * math.pi) - 2.0 * np.log(-z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no branch evaluated where it does not apply
        values = log_h(z)
    np.testing.assert_allclose(values, asymptote, rtol=1e-12)


def test_log_ei_derivatives_match_finite_differences() -> None:
    mean, std, step = np.array([0.1, -0.5, -3.0, -30.0]), np.array([1.0, 0.3, 0.5, 0.5]), 1e-6
    log_ei, d_mean, d_std = log_expected_improvement(mean, std, 0.2)
    np.testing.assert_allclose(
        (log_expected_improvement(mean + step, std, 0.2)[0] - log_ei) / step, d_mean, rtol=1e-4
    )
    np.testing.assert_allclose(
        (log_expected_improvement(mean, std + step, 0.2)[0] - log_ei) / step, d_std, rtol=1e-4
    )


def test_probability_of_feasibility() -> None:
    log_p, d_mean, d_std = log_probability_feasible(np.array([0.0, -3.0, 40.0]), np.ones(3))
    assert math.exp(log_p[0]) == pytest.approx(0.5)
    assert math.exp(log_p[1]) == pytest.approx(0.99865, rel=1e-4)
    assert np.isfinite(log_p[2]) and log_p[2] < -700
    assert d_mean[0] == pytest.approx(-math.sqrt(2 / math.pi))  # -φ(0)/Φ(0)
    step = 1e-6
    mean = np.array([0.3])
    moved = log_probability_feasible(mean + step, np.ones(1))[0]
    base = log_probability_feasible(mean, np.ones(1))
    assert (moved[0] - base[0][0]) / step == pytest.approx(base[1][0], rel=1e-4)
    assert np.all(np.isfinite(d_std))
