"""SnAr yield against cost (two objectives): maximise yield, minimise a reagent and time cost.

Yield as in :mod:`benchmarks.problems.snar` (measured with 2 % relative noise). Cost per run, in
cost units, known from the conditions (noiseless):

``cost = 10 * conc + 5 * conc * equiv + 2 * tau + 0.05 * (T - 30)``

substrate at 10 units per mol/L, pyrrolidine (``equiv * conc`` mol/L) at 5, reactor time at 2
per minute of residence, heating at 0.05 per °C above 30 °C; it spans 2.5-26 over the box, and
everything that raises the yield raises it too.

Scored by the hypervolume of the true (yield, cost) values of the feasible evaluated points
against the reference point (yield 0 %, cost 30), exact in two objectives
(:func:`cfl.pareto.hypervolume`). Regret is ``HV* - HV`` with ``HV* = 2388.74``, computed once and
frozen: the Pareto front of 100,000 uniform draws (seed 0, HV 2387.61) merged with 110
epsilon-constraint optima (maximise yield subject to ``cost <= eps`` for 120 values of ``eps``
in ``[2.6, 26]``, SLSQP from the three best draws under each), HV 2388.739.

Single-objective planners see the stated scalarisation ``score = yield - 2 * cost``
(:meth:`FunctionProblem.score`, weights 1 and 2).
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.problems.base import FunctionProblem, ObjectiveSpec
from benchmarks.problems.snar import RELATIVE_NOISE, space, yield_pct
from cfl.space import Point

__all__ = ["HV_OPTIMUM", "REFERENCE", "cost", "problem"]

HV_OPTIMUM = 2388.74
REFERENCE = (0.0, 30.0)
"""Reference point in objective units: yield 0 %, cost 30."""


def cost(point: Point) -> float:
    """Cost units of one run at ``point`` (see the module docstring)."""
    tau, equiv = float(point["residence_time"]), float(point["equivalents"])
    conc, temperature = float(point["concentration"]), float(point["temperature"])
    return 10 * conc + 5 * conc * equiv + 2 * tau + 0.05 * (temperature - 30)


def _response(point: Point) -> Mapping[str, float]:
    return {"yield": yield_pct(point), "cost": cost(point)}


def problem() -> FunctionProblem:
    """The SnAr yield-versus-cost problem."""
    return FunctionProblem(
        name="snar_cost",
        space=space(),
        objectives=(
            ObjectiveSpec("yield", "maximize", noise_sd=2.0),
            ObjectiveSpec("cost", "minimize", weight=2.0),
        ),
        optimum=HV_OPTIMUM,
        response=_response,
        relative_noise=RELATIVE_NOISE,
        noisy_objectives=("yield",),
        reference_point=REFERENCE,
    )
