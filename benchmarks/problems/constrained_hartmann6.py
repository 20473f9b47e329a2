"""Constrained Hartmann6: Hartmann6 with a black-box constraint that cuts off its optimum.

Minimise ``hartmann6(x)`` over ``[0, 1]^6`` subject to ``g(x) = x3^2 + x6^2 - 0.5 <= 0``,
reported per evaluation as the constraint value ``g`` (feasible when ``<= 0``; see
:attr:`cfl.planner.Evaluation.constraints`), so a planner learns it only by measuring. The
unconstrained minimiser has ``g = +0.159`` (infeasible); 39 % of the box is feasible (a quarter
disc of radius ``sqrt(0.5)`` in the ``x3``-``x6`` plane), so a 10-point random design meets it.
Noiseless. The search space carries no linear constraint.

The feasible optimum was computed once and frozen: SLSQP (``ftol`` 1e-12) from 128 starts, the
64 best of 20,000 feasible uniform draws (seed 0) plus 64 uniform draws, then the best point
rounded to 6 decimals inward (``x3``, ``x6`` down) so it is strictly feasible; the value is
Hartmann6 at that rounded point (the unrounded optimum is -3.2001663, ``g = 0``). It lies in a
different basin from the unconstrained one.

While no evaluated point is feasible, the incumbent's value is taken as ``0`` (Hartmann6's
upper end), so regret starts at ``-OPTIMUM``.

Source: Hartmann6 as in :mod:`benchmarks.problems.hartmann`; the constraint is ours (BoTorch's
``ConstrainedHartmann`` uses ``||x||^2 <= 1``, which does not bind at the optimum).
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.problems import hartmann6
from benchmarks.problems.base import FunctionProblem
from cfl.space import Point

__all__ = [
    "INFEASIBLE_VALUE",
    "OPTIMUM",
    "OPTIMUM_POINT",
    "RADIUS_SQUARED",
    "constraint",
    "problem",
]

RADIUS_SQUARED = 0.5
OPTIMUM = -3.2001662610986
OPTIMUM_POINT: Mapping[str, float] = {
    "x1": 0.404613,
    "x2": 0.882298,
    "x3": 0.70605,
    "x4": 0.573868,
    "x5": 0.147509,
    "x6": 0.038635,
}
INFEASIBLE_VALUE = 0.0
"""The incumbent value while no feasible point has been evaluated."""


def constraint(point: Point) -> Mapping[str, float]:
    """``{"g": x3^2 + x6^2 - 0.5}``; feasible when ``<= 0``."""
    return {"g": float(point["x3"]) ** 2 + float(point["x6"]) ** 2 - RADIUS_SQUARED}


def problem() -> FunctionProblem:
    """The constrained Hartmann6 problem."""
    base = hartmann6.problem()
    return FunctionProblem(
        name="constrained_hartmann6",
        space=base.space,
        objectives=base.objectives,
        optimum=OPTIMUM,
        response=base.response,
        constraint_response=constraint,
        optimum_point=dict(OPTIMUM_POINT),
        infeasible_value=INFEASIBLE_VALUE,
    )
