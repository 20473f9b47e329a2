"""Exact Gaussian-process regression with a Matérn-5/2 ARD kernel, fitted by MAP.

Small on purpose: campaigns have tens to a few hundred experiments, so an exact GP with a
Cholesky factor costs milliseconds, and numpy/scipy are enough (no torch at runtime).

Model (Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", hereafter R&W):

* inputs in the unit cube (:mod:`cfl.encoding`), outputs standardised to mean 0, variance 1;
* zero prior mean on the standardised outputs, so far from data predictions return to the
  observed average;
* kernel ``k(x, x') = s² (1 + √5 r + 5 r²/3) exp(-√5 r)`` with
  ``r² = Σ_j (x_j - x'_j)² / ℓ_j²`` (R&W eq. 4.17, one length scale per input: ARD, §5.1);
* Gaussian observation noise ``σ²`` on the diagonal.

Hyperparameters ``θ = (log ℓ_1..ℓ_D, log s², log σ²)`` maximise the log marginal likelihood
(R&W eq. 2.30) plus log priors, by L-BFGS-B with the analytic gradient (R&W eq. 5.9). The priors
are those of Optuna's GPSampler (``optuna/_gp/prior.py``, Optuna 4-5), which on our anchor
problems beat both the dimension-scaled log-normal length-scale prior of Hvarfner, Hellsten and
Nardi 2024 ("Vanilla Bayesian Optimization Performs Great in High Dimensions", ICML) and
BoTorch's former Gamma(3, 6) at 30 evaluations (median over 10 seeds, initial design 8, no
output warping: Hartmann6 0.20 vs 0.39 and 0.23, Mixed5 0.59 vs 0.78 and 0.78):

* ``-log p(ℓ_j) = 0.1 λ_j + 0.1 / λ_j`` with ``λ_j = 1/ℓ_j²``: peaked at ``ℓ = 1`` (the width
  of the unit cube), penalising both very short and very long length scales;
* ``s² ~ Gamma(2, 1)``: signal variance near that of the standardised data;
* ``σ² ~ Gamma(1.1, 30)``: noise mostly small (mode ≈ 0.003 of the output variance) but free to
  grow on noisy data; ``σ² >= 1e-6`` for stability.

The densities are applied to the optimised log parameters as given, as Optuna does (no Jacobian
term): a MAP estimate in that parameterisation.

The fit starts from two fixed points (all length scales 1, and all 0.2), so it is deterministic:
the same data give the same model, which the resumable planner needs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize

__all__ = ["GaussianProcess", "Hyperparameters", "matern52"]

Array = NDArray[np.float64]

_SQRT5 = math.sqrt(5.0)
_NOISE_FLOOR = 1e-6
_LOG_BOUNDS_LENGTH = (math.log(5e-3), math.log(1e3))
_LOG_BOUNDS_SIGNAL = (math.log(1e-2), math.log(1e2))
_LOG_BOUNDS_NOISE = (math.log(_NOISE_FLOOR), math.log(1.0))
_SIGNAL_PRIOR = (2.0, 1.0)
"""Gamma(concentration, rate) on ``s²``."""
_NOISE_PRIOR = (1.1, 30.0)
"""Gamma(concentration, rate) on ``σ²``."""
_LENGTH_PRIOR_WEIGHT = 0.1


@dataclass(frozen=True)
class Hyperparameters:
    """Kernel and noise settings of one fitted model (in standardised output units)."""

    lengthscales: Array
    signal: float
    """``s²``, the kernel's variance."""
    noise: float
    """``σ²``, the observation-noise variance."""


def _scaled_sq(a: Array, b: Array, lengthscales: Array) -> Array:
    """``(x_j - x'_j)² / ℓ_j²`` for every pair, shape ``(len(a), len(b), D)``."""
    diff = (a[:, None, :] - b[None, :, :]) / lengthscales
    return np.asarray(diff * diff, dtype=np.float64)


def matern52(a: Array, b: Array, hyper: Hyperparameters) -> Array:
    """The Matérn-5/2 ARD kernel matrix ``k(a_i, b_j)`` (R&W eq. 4.17), noise not included.

    ``k = s² (1 + √5 r + 5 r²/3) exp(-√5 r)``; at ``r = 1`` that is
    ``s² (1 + √5 + 5/3) e^{-√5} ≈ 0.5240 s²``.
    """
    r = np.sqrt(_scaled_sq(a, b, hyper.lengthscales).sum(axis=-1))
    k = hyper.signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)
    return np.asarray(k, dtype=np.float64)


def _grad_factor(r: Array, signal: float) -> Array:
    """``G(r) = s² (5/3)(1 + √5 r) exp(-√5 r)``, shared by every kernel derivative.

    ``∂k/∂r = -G(r) r``, so ``∂k/∂(log ℓ_j) = G(r) Δ_j²/ℓ_j²`` and
    ``∂k/∂x_j = -G(r) Δ_j/ℓ_j²`` with ``Δ = x - x'``; neither divides by ``r``.
    """
    return signal * (5.0 / 3.0) * (1.0 + _SQRT5 * r) * np.exp(-_SQRT5 * r)


def _safe_cholesky(matrix: Array) -> Array:
    """Lower Cholesky factor, adding diagonal jitter if rounding made ``matrix`` indefinite."""
    jitter = 0.0
    for _ in range(6):
        try:
            factor = cholesky(matrix + jitter * np.eye(len(matrix)), lower=True)
            return np.asarray(factor, dtype=np.float64)
        except np.linalg.LinAlgError:
            jitter = 1e-8 if jitter == 0.0 else jitter * 10.0
    raise np.linalg.LinAlgError(
        "kernel matrix is not positive definite even with jitter 1e-3; check the data for "
        "non-finite values"
    )


class GaussianProcess:
    """A fitted (or conditioned) GP over unit-cube inputs.

    Build with :meth:`fit`; predictions are in standardised units (``z = (y - mean) / std``),
    which is what the acquisition functions work in. Use :meth:`to_original` to go back.
    """

    def __init__(
        self, x: Array, z: Array, hyper: Hyperparameters, y_mean: float, y_std: float
    ) -> None:
        self.x = x
        self.z = z
        self.hyper = hyper
        self.y_mean = y_mean
        self.y_std = y_std
        k = matern52(x, x, hyper) + hyper.noise * np.eye(len(x))
        self._chol = _safe_cholesky(k)
        self._alpha = cho_solve((self._chol, True), z)

    @classmethod
    def fit(cls, x: Array, y: Array) -> GaussianProcess:
        """MAP-fit a GP to inputs ``x`` (``(n, D)`` in the unit cube) and outputs ``y``.

        Raises:
            ValueError: no data, mismatched shapes or non-finite values.
        """
        if x.ndim != 2 or len(x) == 0 or len(x) != len(y):
            raise ValueError(
                f"need x of shape (n, D) and y of shape (n,), n >= 1; got {x.shape}, {y.shape}"
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("x and y must be finite; drop failed experiments before fitting")
        y_mean = float(np.mean(y))
        y_std = float(np.std(y))
        if not y_std > 1e-12:
            y_std = 1.0
        z = (y - y_mean) / y_std
        hyper = _fit_map(x, z)
        return cls(x, z, hyper, y_mean, y_std)

    def condition(self, x_new: Array, z_new: Array) -> GaussianProcess:
        """The same model (same hyperparameters and scaling) with extra data in ``z`` units.

        For fantasies (Kriging believer): adding a pending point at its posterior mean shrinks
        the variance around it without refitting the hyperparameters.
        """
        return GaussianProcess(
            np.vstack([self.x, x_new]),
            np.concatenate([self.z, z_new]),
            self.hyper,
            self.y_mean,
            self.y_std,
        )

    def predict(self, xs: Array) -> tuple[Array, Array]:
        """Posterior mean and variance of the latent function at ``xs`` (standardised units).

        ``μ = k*ᵀ α`` with ``α = K⁻¹ z`` and ``σ² = k(x, x) - vᵀ v`` with ``v = L⁻¹ k*``
        (R&W Algorithm 2.1). The variance excludes observation noise and is floored at 1e-12.
        """
        ks = matern52(xs, self.x, self.hyper)
        mean = ks @ self._alpha
        v = solve_triangular(self._chol, ks.T, lower=True)
        var = np.maximum(self.hyper.signal - np.sum(v * v, axis=0), 1e-12)
        return mean, var

    def predict_with_grad(self, xs: Array) -> tuple[Array, Array, Array, Array]:
        """Posterior mean and variance at ``xs`` and their gradients with respect to ``xs``.

        ``∂μ/∂x_j = Σ_b α_b ∂k(x, x_b)/∂x_j`` and ``∂σ²/∂x_j = -2 Σ_b β_b ∂k(x, x_b)/∂x_j``
        with ``β = K⁻¹ k*``, where ``∂k/∂x_j = -G(r) (x_j - x_bj)/ℓ_j²`` (see ``_grad_factor``).

        Returns:
            ``(mean, var, dmean, dvar)``, the gradients of shape ``(len(xs), D)``.
        """
        ls2 = self.hyper.lengthscales**2
        diff = xs[:, None, :] - self.x[None, :, :]
        r = np.sqrt(np.sum(diff * diff / ls2, axis=-1))
        ks = self.hyper.signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)
        dk = -_grad_factor(r, self.hyper.signal)[:, :, None] * diff / ls2
        mean = ks @ self._alpha
        beta = cho_solve((self._chol, True), ks.T).T
        var_raw = self.hyper.signal - np.sum(ks * beta, axis=1)
        var = np.maximum(var_raw, 1e-12)
        dmean = np.einsum("mbj,b->mj", dk, self._alpha)
        dvar = -2.0 * np.einsum("mbj,mb->mj", dk, beta)
        dvar[var_raw <= 1e-12] = 0.0
        return mean, var, dmean, dvar

    def to_original(self, z: Array) -> Array:
        """Standardised values back in the units of the fitted ``y``."""
        return z * self.y_std + self.y_mean


def _neg_log_posterior(theta: Array, x: Array, z: Array, sq: Array) -> tuple[float, Array]:
    """``-log p(z | θ) - log p(θ)`` and its gradient (R&W eqs. 2.30 and 5.9).

    ``-log p(z|θ) = ½ zᵀα + Σ log L_ii + (n/2) log 2π``; with ``W = K⁻¹ - ααᵀ``,
    ``∂/∂θ_i = ½ tr(W ∂K/∂θ_i)``, where ``∂K/∂log ℓ_j = G ∘ Δ_j²/ℓ_j²``,
    ``∂K/∂log s² = K_f`` and ``∂K/∂log σ² = σ² I``.
    """
    d = x.shape[1]
    n = len(z)
    log_ls = theta[:d]
    signal = math.exp(theta[d])
    noise = math.exp(theta[d + 1])
    scaled = sq / np.exp(2.0 * log_ls)
    r = np.sqrt(scaled.sum(axis=-1))
    kf = signal * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)
    try:
        chol = cholesky(kf + noise * np.eye(n), lower=True)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = cho_solve((chol, True), z)
    nll = (
        0.5 * float(z @ alpha)
        + float(np.sum(np.log(np.diag(chol))))
        + 0.5 * n * math.log(2 * math.pi)
    )
    w = cho_solve((chol, True), np.eye(n)) - np.outer(alpha, alpha)
    grad = np.empty_like(theta)
    wg = w * _grad_factor(r, signal)
    grad[:d] = 0.5 * (wg.reshape(-1) @ scaled.reshape(-1, d))  # Σ_ab wg_ab scaled_abj
    grad[d] = 0.5 * float(np.sum(w * kf))
    grad[d + 1] = 0.5 * noise * float(np.trace(w))
    # priors, as -log p(θ) up to constants (see the module docstring)
    ls2 = np.exp(2.0 * log_ls)
    prior = _LENGTH_PRIOR_WEIGHT * float(np.sum(ls2 + 1.0 / ls2))
    grad[:d] += 2.0 * _LENGTH_PRIOR_WEIGHT * (ls2 - 1.0 / ls2)
    for index, value, (shape, rate) in ((d, signal, _SIGNAL_PRIOR), (d + 1, noise, _NOISE_PRIOR)):
        # Gamma: -log p = -(shape - 1) log v + rate v, with θ = log v
        prior += -(shape - 1.0) * float(theta[index]) + rate * value
        grad[index] += -(shape - 1.0) + rate * value
    return nll + prior, grad


def _fit_map(x: Array, z: Array) -> Hyperparameters:
    """MAP hyperparameters by L-BFGS-B from two fixed starts (deterministic)."""
    d = x.shape[1]
    sq = (x[:, None, :] - x[None, :, :]) ** 2
    bounds = [_LOG_BOUNDS_LENGTH] * d + [_LOG_BOUNDS_SIGNAL, _LOG_BOUNDS_NOISE]
    best: tuple[float, Array] | None = None
    for log_length in (0.0, math.log(0.2)):
        start = np.concatenate([np.full(d, log_length), [0.0, math.log(1e-3)]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = minimize(
                _neg_log_posterior,
                start,
                args=(x, z, sq),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 200},
            )
        value = float(result.fun)
        if best is None or value < best[0]:
            best = (value, np.asarray(result.x, dtype=float))
    assert best is not None
    theta = best[1]
    return Hyperparameters(
        lengthscales=np.exp(theta[:d]),
        signal=math.exp(theta[d]),
        noise=max(math.exp(theta[d + 1]), _NOISE_FLOOR),
    )
