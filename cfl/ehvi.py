"""Expected hypervolume improvement: the acquisition for campaigns with two objectives.

The hypervolume improvement of a new outcome ``y`` over a Pareto front ``P`` (all objectives
maximised, reference point ``r``) is ``HVI(y) = HV(P ∪ {y}) - HV(P)``: the volume that ``y``
dominates and no point of ``P`` does. That region is a union of disjoint boxes ``[l_b, u_b]``
fixed by ``P`` and ``r`` alone, so

    ``HVI(y) = Σ_b Π_j clamp(y_j - l_bj, 0, u_bj - l_bj)``

(Yang, Emmerich, Deutz, Bäck 2019, "Efficient computation of expected hypervolume improvement
using box decomposition algorithms", J. Global Optim. 75, eq. 7). With independent Gaussian
posteriors ``y_j ~ N(μ_j, σ_j²)`` (one GP per objective) the expectation of each product is the
product of expectations, and ``clamp(Y - l, 0, u - l) = max(Y - l, 0) - max(Y - u, 0)``, so EHVI
is exact in closed form, with no Monte Carlo:

    ``EHVI = Σ_b Π_j [ψ_j(l_bj) - ψ_j(u_bj)]``,
    ``ψ_j(a) = E max(y_j - a, 0) = σ_j h((μ_j - a)/σ_j)``

with ``h(z) = φ(z) + z Φ(z)`` as in expected improvement (Jones et al. 1998), and
``ψ_j(∞) = 0``. It is computed in logs with :func:`cfl.acquisition.log_h` (Ament et al. 2023),
so it stays finite and has a useful gradient even deep inside the dominated region, where the
Monte-Carlo estimates used by BoTorch and Optuna are flat. Derivatives: ``∂ψ/∂μ = Φ(z)`` and
``∂ψ/∂σ = φ(z)``.

Box decomposition (grid columns): along the first ``m-1`` objectives, the reference and the
front's coordinates cut the space into cells; a cell's non-dominated part is everything above
``h = max(r_m, max{p_m : p dominates the cell's upper corner in the first m-1 objectives})`` in
the last objective, up to infinity. For two objectives that is the staircase of ``|P| + 1``
boxes under the front; for ``m`` objectives it is ``(|P| + 1)^(m-1)`` boxes, which is why the
planner uses this only for two (:mod:`cfl.gp_planner`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_ndtr

from cfl.acquisition import log1mexp, log_h
from cfl.pareto import pareto_mask

__all__ = ["hypervolume_improvement", "log_ehvi", "non_dominated_boxes"]

Array = NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_CAP = 700.0
"""Largest exponent taken in a gradient ratio (``exp(700) ≈ 1e304``)."""


def non_dominated_boxes(front: Array, reference: Array) -> tuple[Array, Array]:
    """Disjoint boxes covering what dominates ``reference`` and no row of ``front``.

    Args:
        front: Outcomes already reached, ``(k, m)``, higher is better (dominated rows and rows
            not above the reference are ignored).
        reference: ``(m,)``, the lower corner of the hypervolume.

    Returns:
        ``(lower, upper)``, each ``(B, m)``; upper bounds may be ``inf``.
    """
    m = len(reference)
    points = front[np.all(front > reference, axis=1)]
    if len(points):
        points = points[pareto_mask(points)]
    cuts = [np.unique(np.concatenate([[reference[j]], points[:, j]])) for j in range(m - 1)]
    lower: list[Array] = []
    upper: list[Array] = []
    for index in itertools.product(*(range(len(c)) for c in cuts)):
        low = np.array([cuts[j][i] for j, i in enumerate(index)])
        high = np.array(
            [cuts[j][i + 1] if i + 1 < len(cuts[j]) else np.inf for j, i in enumerate(index)]
        )
        covering = points[np.all(points[:, : m - 1] >= high, axis=1)] if len(points) else points
        floor = max(float(reference[-1]), float(np.max(covering[:, -1], initial=-np.inf)))
        lower.append(np.append(low, floor))
        upper.append(np.append(high, np.inf))
    return np.array(lower), np.array(upper)


def hypervolume_improvement(outcomes: Array, lower: Array, upper: Array) -> Array:
    """``HVI`` of each row of ``outcomes`` (``(n, m)``) over the boxes' front (exact)."""
    sides = np.clip(outcomes[:, None, :] - lower[None, :, :], 0.0, upper - lower)
    return np.asarray(np.prod(sides, axis=-1).sum(axis=-1), dtype=np.float64)


def log_ehvi(mean: Array, std: Array, lower: Array, upper: Array) -> tuple[Array, Array, Array]:
    """Exact ``log EHVI`` and its derivatives in ``mean`` and ``std``.

    Args:
        mean: Posterior means, ``(n, m)``, in the units the boxes are in.
        std: Posterior standard deviations, ``(n, m)``, positive.
        lower: Box lower corners, ``(B, m)``, finite.
        upper: Box upper corners, ``(B, m)``, may be ``inf``.

    Returns:
        ``(value, dvalue/dmean, dvalue/dstd)``, shapes ``(n,)``, ``(n, m)``, ``(n, m)``. With
        ``g_bj = ψ_j(l_bj) - ψ_j(u_bj)`` and ``w_b`` the share of box ``b`` in the sum,
        ``∂/∂μ_j = Σ_b w_b (Φ(z_l) - Φ(z_u)) / g_bj`` and ``∂/∂σ_j`` the same with ``φ``.
    """
    mu, sd = mean[:, None, :], std[:, None, :]
    z_low = (mu - lower[None]) / sd  # (n, B, m)
    log_low = np.log(sd) + log_h(z_low)
    bounded = np.broadcast_to(np.isfinite(upper)[None], z_low.shape)
    z_up = np.where(bounded, (mu - np.where(np.isfinite(upper), upper, 0.0)[None]) / sd, 0.0)
    log_gap = np.zeros_like(z_low)
    # ψ(u) / ψ(l) = exp(log h(z_u) - log h(z_l)) < 1, as h increases and z_u < z_l
    ratio = np.minimum(log_h(z_up[bounded]) - log_h(z_low[bounded]), -1e-300)
    log_gap[bounded] = log1mexp(ratio)
    log_g = log_low + log_gap  # log g_bj
    per_box = log_g.sum(axis=-1)  # (n, B)
    top = per_box.max(axis=1, keepdims=True)
    weights = np.exp(per_box - top)
    total = weights.sum(axis=1, keepdims=True)
    value = (top + np.log(total)).reshape(-1)
    weights /= total

    def share(log_low_term: Array, log_up_term: Array) -> Array:
        # each ratio is at most about |z|/σ; the cap only stops rounding far out from overflowing
        up = np.where(bounded, log_up_term, -np.inf) - log_g
        return np.exp(np.minimum(log_low_term - log_g, _LOG_CAP)) - np.exp(np.minimum(up, _LOG_CAP))

    d_mean = share(log_ndtr(z_low), log_ndtr(z_up))
    d_std = share(-0.5 * z_low**2 - _LOG_SQRT_2PI, -0.5 * z_up**2 - _LOG_SQRT_2PI)
    weighted = weights[..., None]
    return value, (weighted * d_mean).sum(axis=1), (weighted * d_std).sum(axis=1)
