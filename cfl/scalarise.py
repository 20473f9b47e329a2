"""Several objectives folded into one, so a single-objective GP planner can trace a Pareto front.

ParEGO (Knowles 2006, "ParEGO: A Hybrid Algorithm With On-Line Landscape Approximation for
Expensive Multiobjective Optimization Problems", IEEE TEC 10(1), eq. 2): each suggestion draws
fresh weights ``w`` on the simplex, normalises each objective to ``[0, 1]`` over the observed
range, and maximises the augmented Chebyshev scalarisation

    ``s(f) = min_i w_i f_i + ρ Σ_i w_i f_i``,   ``ρ = 0.05``

(Knowles' minimisation form, ``max_i + ρ Σ``, turned round for maximised objectives). The
``min`` term lets every Pareto-optimal point win for some weight, including those in concave
parts of the front that a weighted sum never reaches; the small sum term breaks ties between
weakly dominated points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["augmented_chebyshev", "simplex_weights"]

Array = NDArray[np.float64]

RHO = 0.05


def simplex_weights(rng: np.random.Generator, m: int) -> Array:
    """Weights drawn uniformly from the ``m``-simplex (a flat Dirichlet)."""
    return np.asarray(rng.dirichlet(np.ones(m)), dtype=float)


def augmented_chebyshev(values: Array, weights: Array) -> Array:
    """ParEGO's scalar for each row of ``values`` (``(n, m)``, higher is better).

    Objectives are rescaled to ``[0, 1]`` over the rows given (a constant objective becomes 0).
    """
    low = values.min(axis=0)
    span = values.max(axis=0) - low
    span[span <= 0] = 1.0
    f = (values - low) / span
    weighted = f * weights
    return np.asarray(weighted.min(axis=1) + RHO * weighted.sum(axis=1), dtype=float)
