"""Hartmann functions (3-D and 6-D): sums of four Gaussian-like bumps in the unit cube.

``f(x) = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)``, ``alpha = (1, 1.2, 3, 3.2)``, with the
``A`` and ``P`` tables below; minimise over ``[0, 1]^d``. Hartmann6: minimum ``-3.32237`` at
``(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)``; Hartmann3: minimum ``-3.86278`` at
``(0.114614, 0.555649, 0.852547)``.

Source: L. C. W. Dixon, G. P. Szegő (1978); https://www.sfu.ca/~ssurjano/hart6.html and
https://www.sfu.ca/~ssurjano/hart3.html
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HARTMANN3_MINIMISER",
    "HARTMANN3_OPTIMUM",
    "HARTMANN6_MINIMISER",
    "HARTMANN6_OPTIMUM",
    "hartmann3",
    "hartmann6",
]

_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_A6 = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_P6 = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_A3 = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_P3 = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)

HARTMANN6_OPTIMUM = -3.322368
HARTMANN6_MINIMISER = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
HARTMANN3_OPTIMUM = -3.86278
HARTMANN3_MINIMISER = (0.114614, 0.555649, 0.852547)


def _hartmann(x: NDArray[np.float64], a: NDArray[np.float64], p: NDArray[np.float64]) -> float:
    inner = np.sum(a * (np.asarray(x, dtype=float)[None, :] - p) ** 2, axis=1)
    return float(-np.sum(_ALPHA * np.exp(-inner)))


def hartmann6(x: NDArray[np.float64]) -> float:
    """Hartmann6 at ``x`` (six coordinates in ``[0, 1]``)."""
    return _hartmann(x, _A6, _P6)


def hartmann3(x: NDArray[np.float64]) -> float:
    """Hartmann3 at ``x`` (three coordinates in ``[0, 1]``)."""
    return _hartmann(x, _A3, _P3)
