"""Expected hypervolume improvement: the acquisition for campaigns with two objectives.

The hypervolume improvement of a new outcome ``y`` over a Pareto front ``P`` (all objectives
maximised, reference point ``r``) is ``HVI(y) = HV(P ∪ {y}) - HV(P)``: the volume that ``y``
dominates and no point of ``P`` does. That region is a union of disjoint boxes ``[l_b, u_b]``
fixed by ``P`` and ``r`` alone, so

    ``HVI(y) = Σ_b Π_j clamp(y_j - l_bj, 0, u_bj - l_bj)``

(Yang, Emmerich, Deutz, Bäck 2019, "Efficient computation of expected hypervolume improvement
using box decomposition algorithms", J. Global Optim. 75, eq. 7). Under the GP posterior
``y ~ N(μ(x), diag σ²(x))`` (independent models per objective), EHVI is the expectation, taken
here by quasi-Monte Carlo with fixed standard-normal samples ``ε_s`` (Sobol, inverse CDF), so
the estimate is a smooth deterministic function of ``x`` that a gradient method can climb
(Daulton, Balandat, Bakshy 2020, "Differentiable Expected Hypervolume Improvement", NeurIPS,
eq. 1 and appendix D). In logs, with every box side floored at ``ε = 1e-12`` as in Optuna's
``LogEHVI`` (optuna ``_gp/acqf.py``, v4.5) so that the logarithm and its gradient stay finite:

    ``log EHVI(x) ≈ logsumexp_{s,b} Σ_j log clamp(μ_j + σ_j ε_sj - l_bj, ε, u_bj - l_bj) - log S``.

Box decomposition (grid columns): along the first ``m-1`` objectives, the reference and the
front's coordinates cut the space into cells; a cell's non-dominated part is everything above
``h = max(r_m, max{p_m : p dominates the cell's upper corner in the first m-1 objectives})`` in
the last objective, up to infinity. For two objectives that is the staircase of ``|P| + 1``
boxes under the front; for ``m`` objectives it is ``(|P| + 1)^(m-1)`` boxes, which is why the
planner uses this only for two (:mod:`cfl.gp_planner`).
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri
from scipy.stats import qmc

from cfl.pareto import pareto_mask

__all__ = ["hypervolume_improvement", "log_ehvi", "non_dominated_boxes", "normal_samples"]

Array = NDArray[np.float64]

_EPS = 1e-12
_CHUNK = 2_000_000
"""Largest ``candidates × samples × boxes × objectives`` array built at once (16 MB)."""


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


def normal_samples(count: int, m: int, rng: np.random.Generator) -> Array:
    """``(count, m)`` scrambled-Sobol standard-normal draws (inverse CDF), for :func:`log_ehvi`."""
    u = qmc.Sobol(m, scramble=True, seed=rng).random(count)
    return np.asarray(ndtri(np.clip(u, 1e-10, 1.0 - 1e-10)), dtype=np.float64)


def log_ehvi(
    mean: Array, std: Array, samples: Array, lower: Array, upper: Array
) -> tuple[Array, Array, Array]:
    """Quasi-Monte-Carlo ``log EHVI`` and its derivatives in ``mean`` and ``std``.

    Args:
        mean: Posterior means, ``(n, m)``, in the units the boxes are in.
        std: Posterior standard deviations, ``(n, m)``.
        samples: Standard-normal draws ``ε``, ``(S, m)``.
        lower: Box lower corners, ``(B, m)``.
        upper: Box upper corners, ``(B, m)``.

    Returns:
        ``(value, dvalue/dmean, dvalue/dstd)``, shapes ``(n,)``, ``(n, m)``, ``(n, m)``.
        With ``w_sb`` the softmax weights of the log-sum-exp and ``d_sbj`` the clamped sides,
        ``∂/∂μ_j = Σ_sb w_sb [d_sbj unclamped] / d_sbj`` and ``∂/∂σ_j`` the same times ``ε_sj``.
    """
    n, m = mean.shape
    s = len(samples)
    intervals = np.maximum(upper - lower, _EPS)
    value = np.empty(n)
    dmean = np.empty((n, m))
    dstd = np.empty((n, m))
    step = max(1, _CHUNK // max(1, s * len(lower) * m))
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        outcome = mean[rows, None, :] + std[rows, None, :] * samples[None, :, :]  # (c, S, m)
        raw = outcome[:, :, None, :] - lower[None, None, :, :]  # (c, S, B, m)
        sides = np.clip(raw, _EPS, intervals)
        free = (raw > _EPS) & (raw < intervals)
        logs = np.log(sides).sum(axis=-1)  # (c, S, B)
        top = logs.max(axis=(1, 2), keepdims=True)
        weights = np.exp(logs - top)
        total = weights.sum(axis=(1, 2), keepdims=True)
        value[rows] = (top + np.log(total)).reshape(-1) - np.log(s)
        weights /= total
        inner = np.where(free, 1.0 / sides, 0.0) * weights[..., None]  # (c, S, B, m)
        per_sample = inner.sum(axis=2)  # (c, S, m)
        dmean[rows] = per_sample.sum(axis=1)
        dstd[rows] = (per_sample * samples[None, :, :]).sum(axis=1)
    return value, dmean, dstd
