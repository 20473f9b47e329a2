"""Mixed5: three continuous variables, an integer and a 4-level categorical "solvent".

``f(x, k, s) = scale_s * hartmann3(T_s(x)) + 0.1 (k - 3)^2``, minimise, with ``x in [0, 1]^3``,
``k in {1..5}`` and the solvent ``s`` choosing a transform of the Hartmann-3 landscape and a
scale:

=======  ====================================  =====
solvent  ``T_s(x1, x2, x3)``                   scale
=======  ====================================  =====
A        ``(x1, x2, x3)`` (as is)              1.0
B        ``(1 - x1, 1 - x2, 1 - x3)`` (reflect)  0.9
C        ``(x2, x3, x1)`` (roll by one)        0.8
D        ``(x3, x1, x2)`` (roll by two)        0.6
=======  ====================================  =====

Minimum ``-3.86278`` at solvent A, ``k = 3``, ``x = (0.114614, 0.555649, 0.852547)`` (the other
solvents bottom out at 0.9, 0.8 and 0.6 of it). Defined in ``shared/reference/bo_anchors.md``
section 3; Hartmann-3 from https://www.sfu.ca/~ssurjano/hart3.html
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmarks.problems.base import FunctionProblem, ObjectiveSpec
from benchmarks.problems.hartmann import HARTMANN3_MINIMISER, HARTMANN3_OPTIMUM, hartmann3
from cfl.space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Point,
    SearchSpace,
)

__all__ = ["SCALES", "SOLVENTS", "mixed5", "problem"]

SOLVENTS = ("A", "B", "C", "D")
SCALES = {"A": 1.0, "B": 0.9, "C": 0.8, "D": 0.6}


def mixed5(x1: float, x2: float, x3: float, k: int, solvent: str) -> float:
    """Mixed5 at one point (see the module docstring)."""
    x = np.array([x1, x2, x3])
    transformed = {"A": x, "B": 1.0 - x, "C": np.roll(x, -1), "D": np.roll(x, -2)}[solvent]
    return SCALES[solvent] * hartmann3(transformed) + 0.1 * (k - 3) ** 2


def _response(point: Point) -> Mapping[str, float]:
    return {
        "f": mixed5(
            float(point["x1"]),
            float(point["x2"]),
            float(point["x3"]),
            int(point["k"]),
            str(point["solvent"]),
        )
    }


def problem() -> FunctionProblem:
    """The Mixed5 problem."""
    space = SearchSpace(
        parameters=(
            ContinuousParameter(name="x1", low=0.0, high=1.0),
            ContinuousParameter(name="x2", low=0.0, high=1.0),
            ContinuousParameter(name="x3", low=0.0, high=1.0),
            IntegerParameter(name="k", low=1, high=5),
            CategoricalParameter(name="solvent", levels=SOLVENTS),
        )
    )
    x1, x2, x3 = HARTMANN3_MINIMISER
    return FunctionProblem(
        name="mixed5",
        space=space,
        objectives=(ObjectiveSpec("f", "minimize"),),
        optimum=HARTMANN3_OPTIMUM,
        response=_response,
        optimum_point={"x1": x1, "x2": x2, "x3": x3, "k": 3, "solvent": "A"},
    )
