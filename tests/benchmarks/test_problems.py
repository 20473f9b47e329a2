from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import problems
from benchmarks.problems import ackley5, branin, constrained_hartmann6, mixed5, snar_cost
from benchmarks.problems.base import FunctionProblem
from benchmarks.problems.hartmann import HARTMANN6_MINIMISER, hartmann6
from benchmarks.scoring import hypervolume_of, regret_of_truths
from cfl.errors import SpecError
from cfl.pareto import hypervolume


@pytest.mark.parametrize("x1,x2", branin.MINIMISERS)
def test_branin_at_each_known_minimiser(x1: float, x2: float) -> None:
    assert branin.branin(x1, x2) == pytest.approx(0.397887, abs=1e-5)


def test_hartmann6_at_its_minimiser() -> None:
    assert hartmann6(np.array(HARTMANN6_MINIMISER)) == pytest.approx(-3.32237, abs=1e-5)


def test_mixed5_at_its_optimum_and_other_solvents_worse() -> None:
    p = problems.get("mixed5")
    assert isinstance(p, FunctionProblem) and p.optimum_point is not None
    assert p.truth(p.optimum_point).values["f"] == pytest.approx(-3.86278, abs=1e-5)
    for solvent, scale in mixed5.SCALES.items():
        assert (
            mixed5.mixed5(0.114614, 0.555649, 0.852547, 3, "A") * scale <= -3.86278 * scale + 1e-5
        )
        _ = solvent
    assert mixed5.mixed5(0.114614, 0.555649, 0.852547, 5, "A") == pytest.approx(
        -3.86278 + 0.4, abs=1e-5
    )


def test_ackley_is_zero_at_the_origin_which_is_not_the_box_centre() -> None:
    assert ackley5.ackley(np.zeros(5)) == pytest.approx(0.0, abs=1e-12)
    assert (ackley5.LOW + ackley5.HIGH) / 2 != 0
    assert ackley5.ackley(np.full(5, 2.5)) > 1


def test_constrained_optimum_is_feasible_and_reproduces_its_frozen_value() -> None:
    p = problems.get("constrained_hartmann6")
    outcome = p.truth(dict(constrained_hartmann6.OPTIMUM_POINT))
    assert outcome.feasible
    assert outcome.values["f"] == pytest.approx(constrained_hartmann6.OPTIMUM, abs=1e-9)
    unconstrained = p.truth(
        dict(zip(("x1", "x2", "x3", "x4", "x5", "x6"), HARTMANN6_MINIMISER, strict=True))
    )
    assert not unconstrained.feasible  # the constraint binds
    assert regret_of_truths(p, [unconstrained]) == pytest.approx(-constrained_hartmann6.OPTIMUM)


def test_hypervolume_of_a_hand_made_front() -> None:
    # maximise both; points (3,1), (2,2), (1,3) and a dominated (1,1) against (0,0):
    # staircase area 3*1 + 2*1 + 1*1 = 6
    assert hypervolume([(3, 1), (2, 2), (1, 3), (1, 1)], (0, 0)) == pytest.approx(6.0)


def test_snar_cost_hypervolume_in_objective_units() -> None:
    p = problems.get("snar_cost")
    point = {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 80.0}
    truth = p.truth(point)
    assert truth.values["cost"] == pytest.approx(10 * 0.3 + 5 * 0.3 * 2 + 2 * 1 + 0.05 * 50)
    expected = truth.values["yield"] * (30 - truth.values["cost"])
    assert hypervolume_of(p, [truth]) == pytest.approx(expected)
    assert snar_cost.HV_OPTIMUM - expected > 0


def test_every_problem_satisfies_the_protocol_and_noise_only_where_stated() -> None:
    rng = np.random.default_rng(0)
    for name in problems.NAMES:
        p = problems.get(name)
        assert isinstance(p, problems.Problem)
        point = p.space.coerce({q.name: _middle(q) for q in p.space.parameters})
        measured, true = p.evaluate(point, rng), p.truth(point)
        assert (measured.values != true.values) == p.noisy, name
        assert regret_of_truths(p, [true]) >= 0


def _middle(q: object) -> float | int | str:
    levels = getattr(q, "levels", None)
    if levels:
        return str(levels[0])
    low, high = q.low, q.high
    return (low + high) // 2 if isinstance(low, int) else (low + high) / 2


def test_unknown_problem_names_the_known_ones() -> None:
    with pytest.raises(SpecError, match="known problems: branin"):
        problems.get("brannin")
    assert problems.parse("all") == list(problems.NAMES)
    assert math.isfinite(problems.get("snar").optimum)
