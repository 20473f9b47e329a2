from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from cfl.gp import GaussianProcess, Hyperparameters, _neg_log_posterior, matern52


def _hyper(lengthscales: list[float], signal: float = 1.0, noise: float = 1e-6) -> Hyperparameters:
    return Hyperparameters(lengthscales=np.array(lengthscales), signal=signal, noise=noise)


def test_matern52_at_a_known_distance() -> None:
    # r = |2 - 0| / 2 = 1: k = s² (1 + √5 + 5/3) e^{-√5} = 2 × 0.523994...
    k = matern52(np.array([[0.0]]), np.array([[2.0]]), _hyper([2.0], signal=2.0))
    assert k[0, 0] == pytest.approx(2 * (1 + math.sqrt(5) + 5 / 3) * math.exp(-math.sqrt(5)))
    assert k[0, 0] == pytest.approx(1.0479882, rel=1e-6)


def test_matern52_is_ard_and_equals_the_signal_at_zero_distance() -> None:
    h = _hyper([1.0, 100.0], signal=1.5)
    k = matern52(np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]]), h)
    assert k[0, 0] == pytest.approx(1.5)
    assert k[0, 1] == pytest.approx(1.5, rel=1e-3)  # the long length scale ignores that axis


def test_posterior_interpolates_the_data_with_tiny_noise() -> None:
    x = np.array([[0.1], [0.4], [0.8]])
    z = np.array([1.0, -0.5, 0.25])
    gp = GaussianProcess(x, z, _hyper([0.3], noise=1e-8), y_mean=0.0, y_std=1.0)
    mean, var = gp.predict(x)
    np.testing.assert_allclose(mean, z, atol=1e-5)
    assert np.all(var < 1e-6)
    _, far = gp.predict(np.array([[5.0]]))
    assert far[0] == pytest.approx(1.0, rel=1e-6)  # prior variance far from data


def test_fit_standardises_and_predicts_a_smooth_function() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((25, 2))
    y = 100 + 10 * np.sin(3 * x[:, 0]) + x[:, 1]
    gp = GaussianProcess.fit(x, y)
    assert gp.y_mean == pytest.approx(float(np.mean(y)))
    test = rng.random((10, 2))
    mean, _ = gp.predict(test)
    truth = 100 + 10 * np.sin(3 * test[:, 0]) + test[:, 1]
    np.testing.assert_allclose(gp.to_original(mean), truth, atol=0.3)
    assert gp.hyper.lengthscales[0] < gp.hyper.lengthscales[1]  # the relevant axis is shorter


def test_fit_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.random((12, 3)), rng.random(12)
    a, b = GaussianProcess.fit(x, y), GaussianProcess.fit(x, y)
    np.testing.assert_array_equal(a.hyper.lengthscales, b.hyper.lengthscales)
    assert a.hyper.noise == b.hyper.noise


def test_marginal_likelihood_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((15, 3))
    z = np.sin(5 * x[:, 0]) + x[:, 1] ** 2
    z = (z - z.mean()) / z.std()
    sq = (x[:, None, :] - x[None, :, :]) ** 2
    theta = np.array([-1.0, 0.0, 0.5, 0.2, -5.0])
    analytic = _neg_log_posterior(theta, x, z, sq)[1]
    numeric = approx_fprime(theta, lambda t: _neg_log_posterior(t, x, z, sq)[0], 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-4)


def test_input_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((10, 2))
    gp = GaussianProcess(x, np.sin(4 * x[:, 0]), _hyper([0.4, 0.7], noise=1e-4), 0.0, 1.0)
    xs = rng.random((3, 2))
    mean, var, dmean, dvar = gp.predict_with_grad(xs)
    np.testing.assert_allclose((mean, var), gp.predict(xs))
    step = 1e-6
    for j in range(2):
        moved = xs.copy()
        moved[:, j] += step
        m2, v2 = gp.predict(moved)
        np.testing.assert_allclose((m2 - mean) / step, dmean[:, j], rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose((v2 - var) / step, dvar[:, j], rtol=1e-3, atol=1e-5)


def test_condition_keeps_hyperparameters_and_pins_the_new_point() -> None:
    x = np.array([[0.2], [0.7]])
    gp = GaussianProcess(x, np.array([0.0, 1.0]), _hyper([0.3], noise=1e-6), 0.0, 1.0)
    believed = gp.condition(np.array([[0.45]]), np.array([0.5]))
    assert believed.hyper is gp.hyper
    mean, var = believed.predict(np.array([[0.45]]))
    assert mean[0] == pytest.approx(0.5, abs=1e-4) and var[0] < 1e-5


def test_fit_rejects_bad_data() -> None:
    with pytest.raises(ValueError, match="finite"):
        GaussianProcess.fit(np.array([[0.0], [1.0]]), np.array([1.0, math.nan]))
    with pytest.raises(ValueError, match="shape"):
        GaussianProcess.fit(np.zeros((3, 1)), np.zeros(2))
