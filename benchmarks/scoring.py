"""Regret: how far a strategy's incumbent is from the problem's known best, on the truth.

* One objective: ``regret = gain(optimum) - gain(incumbent's true value)``, where ``gain`` flips
  the sign of a value to minimise. The incumbent is the best *true* value among feasible evaluated
  points on a noiseless problem; on a noisy one it is the point the strategy would report (its
  ``best()`` when it has one, else its best measured feasible point), scored on the truth. While
  nothing feasible was evaluated, the incumbent value is the problem's ``infeasible_value``.
* Two objectives: ``regret = HV* - HV`` of the true values of the feasible evaluated points.

Regret is clipped at 0: frozen optima are rounded, so the truth can beat them by rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.problems import Outcome, Problem
from cfl.pareto import hypervolume

__all__ = ["gains", "hypervolume_of", "regret_of_truths", "regret_of_value"]


def gains(problem: Problem, outcome: Outcome) -> tuple[float, ...]:
    """Each objective's value signed so that higher is better."""
    return tuple(o.gain(outcome.values[o.name]) for o in problem.objectives)


def hypervolume_of(problem: Problem, truths: Sequence[Outcome]) -> float:
    """Hypervolume of the feasible outcomes against the problem's reference point.

    Raises:
        ValueError: the problem has no reference point (it has one objective).
    """
    if problem.reference_point is None:
        raise ValueError(f"{problem.name} has one objective; it has no hypervolume")
    reference = [
        o.gain(r) for o, r in zip(problem.objectives, problem.reference_point, strict=True)
    ]
    feasible = [gains(problem, t) for t in truths if t.feasible]
    if not feasible:
        return 0.0
    return hypervolume(feasible, reference)


def regret_of_value(problem: Problem, value: float | None) -> float:
    """Regret of an incumbent with true value ``value`` (``None``: nothing feasible yet)."""
    objective = problem.objectives[0]
    if value is None:
        if problem.infeasible_value is None:
            raise ValueError(f"{problem.name}: no incumbent value and no infeasible_value")
        value = problem.infeasible_value
    return max(0.0, objective.gain(problem.optimum) - objective.gain(value))


def regret_of_truths(problem: Problem, truths: Sequence[Outcome]) -> float:
    """Regret of the best feasible true outcome (or of the front, for two objectives)."""
    if len(problem.objectives) > 1:
        return max(0.0, problem.optimum - hypervolume_of(problem, truths))
    objective = problem.objectives[0]
    feasible = [t.values[objective.name] for t in truths if t.feasible]
    best = max(feasible, key=objective.gain) if feasible else None
    return regret_of_value(problem, best)
