"""Hartmann6 (6-D, noiseless): six variables, several local minima, one global.

Formula and source: :mod:`benchmarks.problems.hartmann`. Minimise over ``[0, 1]^6``; minimum
``-3.32237`` at ``(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.problems.base import FunctionProblem, ObjectiveSpec, box, vector
from benchmarks.problems.hartmann import HARTMANN6_MINIMISER, HARTMANN6_OPTIMUM, hartmann6
from cfl.space import Point

__all__ = ["NAMES", "problem", "response"]

NAMES = ("x1", "x2", "x3", "x4", "x5", "x6")


def response(point: Point) -> Mapping[str, float]:
    """``{"f": hartmann6(x)}``."""
    return {"f": hartmann6(vector(point, NAMES))}


def problem() -> FunctionProblem:
    """The Hartmann6 problem."""
    return FunctionProblem(
        name="hartmann6",
        space=box(NAMES, (0.0,) * 6, (1.0,) * 6),
        objectives=(ObjectiveSpec("f", "minimize"),),
        optimum=HARTMANN6_OPTIMUM,
        response=response,
        optimum_point=dict(zip(NAMES, HARTMANN6_MINIMISER, strict=True)),
    )
