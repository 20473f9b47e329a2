"""Acquisition functions in log space: log expected improvement and log probability of feasibility.

Everything takes a posterior mean ``μ`` and standard deviation ``σ`` (maximisation) and returns
values plus derivatives with respect to ``μ`` and ``σ``, so the optimiser can chain them with the
GP's input gradients.

Working in logs matters: plain EI underflows to exactly 0 far from the incumbent once a model is
confident, leaving the optimiser a flat landscape. LogEI stays finite and informative there
(Ament, Daulton, Eriksson, Balandat, Bakshy 2023, "Unexpected Improvements to Expected
Improvement for Bayesian Optimization", NeurIPS; hereafter Ament 2023).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import erfcx, log_ndtr

__all__ = [
    "expected_improvement",
    "log1mexp",
    "log_expected_improvement",
    "log_h",
    "log_probability_feasible",
]

Array = NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_PI_OVER_2_HALF = 0.5 * math.log(math.pi / 2)
_INV_SQRT_EPS = 1.0 / math.sqrt(np.finfo(float).eps)


def log1mexp(a: Array) -> Array:
    """``log(1 - exp(a))`` for ``a < 0``, accurate at both ends (Mächler 2012)."""
    a = np.asarray(a, dtype=float)
    out = np.empty_like(a)
    near = a > -math.log(2.0)
    out[near] = np.log(-np.expm1(a[near]))
    out[~near] = np.log1p(-np.exp(a[~near]))
    return out


def log_h(z: Array) -> Array:
    """``log h(z)`` with ``h(z) = φ(z) + z Φ(z)``, so that ``EI = σ h((μ - f*)/σ)``.

    Three branches (Ament 2023, eq. 9):

    * ``z > -1``: directly, ``log(φ(z) + z Φ(z))``;
    * ``-1/√ε < z <= -1``: ``-z²/2 - log√(2π) + log1mexp(log(erfcx(-z/√2) |z|) + log√(π/2))``;
    * ``z <= -1/√ε``, and wherever rounding has swamped the middle branch's ``log1mexp``
      argument (about ``-1/z²``, so from ``|z| ≈ 1e6``): the asymptote
      ``-z²/2 - log√(2π) - 2 log|z|``, whose relative error there is ``3/z² < 1e-11``.
    """
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu - _LOG_SQRT_2PI) + zu * np.exp(log_ndtr(zu)))
    middle = (~upper) & (z > -_INV_SQRT_EPS)
    zm = z[middle]
    inner = np.log(erfcx(-zm / math.sqrt(2.0)) * np.abs(zm)) + _LOG_PI_OVER_2_HALF
    # inner is about -1/z²; past |z| ~ 1e6 rounding swamps it (at >= 0 the log is NaN), so the
    # asymptote takes those
    precise = inner < -1e-12
    middle.flat[np.flatnonzero(middle)[~precise]] = False
    zm = zm[precise]
    out[middle] = -0.5 * zm * zm - _LOG_SQRT_2PI + log1mexp(inner[precise])
    lower = ~(upper | middle)
    zl = z[lower]
    out[lower] = -0.5 * zl * zl - _LOG_SQRT_2PI - 2.0 * np.log(np.abs(zl))
    return out


def expected_improvement(mean: Array, std: Array, best: float) -> Array:
    """Closed-form EI, ``σ (z Φ(z) + φ(z))`` with ``z = (μ - f*)/σ`` (Jones et al. 1998, eq. 15).

    Only for reference and tests: it underflows where :func:`log_expected_improvement` does not.
    """
    from scipy.stats import norm

    z = (mean - best) / std
    return np.asarray(std * (z * norm.cdf(z) + norm.pdf(z)), dtype=float)


def log_expected_improvement(mean: Array, std: Array, best: float) -> tuple[Array, Array, Array]:
    """``log EI`` and its derivatives with respect to ``μ`` and ``σ`` (maximisation).

    ``log EI = log h(z) + log σ`` (Ament 2023, eq. 8). Since ``h'(z) = Φ(z)`` and
    ``h(z) - z Φ(z) = φ(z)``:

    * ``∂ log EI/∂μ = Φ(z) / (σ h(z)) = exp(log Φ(z) - log h(z)) / σ``;
    * ``∂ log EI/∂σ = φ(z) / (σ h(z)) = exp(log φ(z) - log h(z)) / σ``,

    both computed in logs so they stay finite where EI underflows.

    Returns:
        ``(log_ei, d_mean, d_std)``.
    """
    z = (mean - best) / std
    lh = log_h(z)
    log_ei = lh + np.log(std)
    d_mean = np.exp(log_ndtr(z) - lh) / std
    d_std = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - lh) / std
    return log_ei, d_mean, d_std


def log_probability_feasible(mean: Array, std: Array) -> tuple[Array, Array, Array]:
    """``log P(c(x) <= 0)`` under a Gaussian posterior for the constraint ``c``, and derivatives.

    ``P = Φ(u)`` with ``u = -μ/σ`` (Gardner, Kusner, Xu, Weinberger, Cunningham 2014, "Bayesian
    Optimization with Inequality Constraints", ICML, eq. 4); ``d log Φ(u)/du = φ(u)/Φ(u)``.

    Returns:
        ``(log_p, d_mean, d_std)``.
    """
    u = -mean / std
    log_p = log_ndtr(u)
    ratio = np.exp(-0.5 * u * u - _LOG_SQRT_2PI - log_p)
    return log_p, -ratio / std, ratio * mean / (std * std)
