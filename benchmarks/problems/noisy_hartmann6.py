"""Noisy Hartmann6: Hartmann6 measured with Gaussian noise of standard deviation 0.1.

Measured ``y = hartmann6(x) + N(0, 0.1^2)`` (3 % of the function's range, a typical assay
scatter). Regret is scored on the noiseless value of the point the strategy would report (its
``best()`` when it has one, else its best measured point), so a strategy fooled by a lucky
measurement is charged for it. Optimum and source: :mod:`benchmarks.problems.hartmann6`.
"""

from __future__ import annotations

from benchmarks.problems import hartmann6
from benchmarks.problems.base import FunctionProblem, ObjectiveSpec

__all__ = ["NOISE_SD", "problem"]

NOISE_SD = 0.1


def problem() -> FunctionProblem:
    """The noisy Hartmann6 problem."""
    base = hartmann6.problem()
    return FunctionProblem(
        name="noisy_hartmann6",
        space=base.space,
        objectives=(ObjectiveSpec("f", "minimize", noise_sd=NOISE_SD),),
        optimum=base.optimum,
        response=base.response,
        noise_sd=NOISE_SD,
        optimum_point=base.optimum_point,
    )
