"""Ackley (5-D) on a shifted, asymmetric box: a needle in a field of ripples.

``f(x) = -20 exp(-0.2 sqrt(mean(x_i^2))) - exp(mean(cos(2 pi x_i))) + 20 + e``; minimise. The
usual box ``[-32.768, 32.768]^d`` puts the minimum (``0`` at the origin) at the box centre, where
centre-biased designs find it for free; here every ``x_i`` is in ``[-5, 10]`` (centre 2.5), so
the origin sits a third of the way along each axis.

Source: D. H. Ackley, "A connectionist machine for genetic hillclimbing" (1987);
https://www.sfu.ca/~ssurjano/ackley.html
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from benchmarks.problems.base import FunctionProblem, ObjectiveSpec, box, vector
from cfl.space import Point

__all__ = ["HIGH", "LOW", "NAMES", "ackley", "problem"]

NAMES = ("x1", "x2", "x3", "x4", "x5")
LOW, HIGH = -5.0, 10.0


def ackley(x: NDArray[np.float64]) -> float:
    """The Ackley function at ``x``."""
    x = np.asarray(x, dtype=float)
    first = -20.0 * math.exp(-0.2 * math.sqrt(float(np.mean(x**2))))
    return first - math.exp(float(np.mean(np.cos(2 * math.pi * x)))) + 20.0 + math.e


def _response(point: Point) -> Mapping[str, float]:
    return {"f": ackley(vector(point, NAMES))}


def problem() -> FunctionProblem:
    """The Ackley-5 problem."""
    return FunctionProblem(
        name="ackley5",
        space=box(NAMES, (LOW,) * 5, (HIGH,) * 5),
        objectives=(ObjectiveSpec("f", "minimize"),),
        optimum=0.0,
        response=_response,
        optimum_point=dict.fromkeys(NAMES, 0.0),
    )
