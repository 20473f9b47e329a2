"""Branin-Hoo (2-D): three global minimisers in a valley, the classic first BO test.

``f(x1, x2) = a (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos(x1) + s`` with ``a = 1``,
``b = 5.1 / (4 pi^2)``, ``c = 5 / pi``, ``r = 6``, ``s = 10``, ``t = 1 / (8 pi)``, on
``x1 in [-5, 10]``, ``x2 in [0, 15]``; minimise. Minimum ``0.397887`` at ``(-pi, 12.275)``,
``(pi, 2.275)`` and ``(9.42478, 2.475)``. Noiseless.

Source: L. C. W. Dixon, G. P. Szegő, "The global optimisation problem: an introduction",
Towards Global Optimisation 2 (1978); https://www.sfu.ca/~ssurjano/branin.html
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from benchmarks.problems.base import FunctionProblem, ObjectiveSpec, box
from cfl.space import Point

__all__ = ["MINIMISERS", "OPTIMUM", "branin", "problem"]

OPTIMUM = 0.397887
MINIMISERS = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))


def branin(x1: float, x2: float) -> float:
    """The Branin-Hoo function (see the module docstring)."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _response(point: Point) -> Mapping[str, float]:
    return {"f": branin(float(point["x1"]), float(point["x2"]))}


def problem() -> FunctionProblem:
    """The Branin problem."""
    return FunctionProblem(
        name="branin",
        space=box(("x1", "x2"), (-5.0, 0.0), (10.0, 15.0)),
        objectives=(ObjectiveSpec("f", "minimize"),),
        optimum=OPTIMUM,
        response=_response,
        optimum_point={"x1": math.pi, "x2": 2.275},
    )
