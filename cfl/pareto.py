"""Pareto fronts and hypervolume, for campaigns with several objectives (all maximised).

A point dominates another when it is at least as good in every objective and better in one.
The hypervolume of a front is the volume of objective space its points dominate, bounded below by
a reference point: the usual single number for "how good is this trade-off curve" (Zitzler and
Thiele 1998, "Multiobjective Optimization Using Evolutionary Algorithms — A Comparative Case
Study", PPSN V).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["hypervolume", "pareto_mask"]

Array = NDArray[np.float64]


def pareto_mask(values: ArrayLike) -> NDArray[np.bool_]:
    """Which rows of ``values`` (shape ``(n, m)``, higher is better) no other row dominates.

    Duplicated rows are all kept: neither dominates the other.
    """
    points = np.asarray(values, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"values must be a 2-D array (points x objectives), got {points.shape}")
    ge = np.all(points[:, None, :] >= points[None, :, :], axis=-1)
    gt = np.any(points[:, None, :] > points[None, :, :], axis=-1)
    dominated = np.any(ge & gt, axis=0)  # [i, j]: i dominates j
    return np.asarray(~dominated)


def hypervolume(values: ArrayLike, reference: ArrayLike) -> float:
    """The volume dominated by ``values`` (maximised) and dominating ``reference``.

    Exact: a sweep over the first objective for two objectives, and for more, slicing along the
    last objective and summing the (m-1)-dimensional volumes of each slab (the "hypervolume by
    slicing objectives" scheme of While, Hingston, Barone, Huband 2006, IEEE TEC 10(1)), which is
    exponential in m but exact and fine for the few objectives and points of a lab campaign.
    Points that do not strictly beat the reference in every objective add nothing.
    """
    points = np.asarray(values, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if points.ndim != 2 or ref.shape != (points.shape[1],):
        raise ValueError(
            f"need values of shape (n, m) and reference of shape (m,); got {points.shape} and "
            f"{ref.shape}"
        )
    points = points[np.all(points > ref, axis=1)]
    if len(points) == 0:
        return 0.0
    return _hv(points[pareto_mask(points)], ref)


def _hv(points: Array, ref: Array) -> float:
    if points.shape[1] == 1:
        return float(np.max(points[:, 0]) - ref[0])
    if points.shape[1] == 2:
        order = np.argsort(-points[:, 0], kind="stable")
        volume, height = 0.0, ref[1]
        for x, y in points[order]:
            if y > height:
                volume += (x - ref[0]) * (y - height)
                height = y
        return float(volume)
    levels = np.unique(points[:, -1])[::-1]  # slabs from the top of the last objective down
    volume = 0.0
    for i, top in enumerate(levels):
        bottom = levels[i + 1] if i + 1 < len(levels) else ref[-1]
        slab = points[points[:, -1] >= top][:, :-1]
        volume += _hv(slab[pareto_mask(slab)], ref[:-1]) * (top - bottom)
    return float(volume)
