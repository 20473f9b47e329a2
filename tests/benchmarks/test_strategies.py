from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from benchmarks import problems, strategies
from cfl.errors import SpecError
from cfl.planner import Evaluation, Planner


def _drive(name: str, problem_name: str, rounds: int, batch: int) -> list[dict[str, object]]:
    p = problems.get(problem_name)
    planner = strategies.build(name, p, 0, batch)
    assert isinstance(planner, Planner)
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(rounds):
        points = planner.suggest(batch, [])
        assert len(points) == batch
        evaluations = []
        for point in points:
            point = p.space.coerce(point)
            m = p.evaluate(point, rng)
            evaluations.append(
                Evaluation(
                    point,
                    p.score(m),
                    {o.name: o.gain(m.values[o.name]) for o in p.objectives},
                    dict(m.constraints),
                )
            )
            seen.append(point)
        planner.ingest(evaluations)
    return seen


@pytest.mark.parametrize("problem_name", ["mixed5", "constrained_hartmann6", "snar_cost"])
def test_optuna_tpe_runs_past_its_initial_design_on_every_kind_of_problem(
    problem_name: str,
) -> None:
    seen = _drive("optuna-tpe", problem_name, rounds=6, batch=2)
    assert len(seen) == 12
    space = problems.get(problem_name).space
    assert seen[:10] == strategies.initial_design(space, strategies.INITIAL_DESIGN, 0)


def test_skopt_default_runs_on_a_mixed_space() -> None:
    assert len(_drive("skopt-default", "mixed5", rounds=11, batch=1)) == 11


def test_cfl_planners_are_strategies_by_their_entry_point_name() -> None:
    assert {"random", "skopt-gp"} <= set(strategies.names())
    assert len(_drive("random", "branin", rounds=2, batch=3)) == 6


def test_penalty_tells_infeasible_points_as_the_worst_score_so_far() -> None:
    penalty = strategies.Penalty()
    assert penalty.score(Evaluation({}, 1.0, {}, {"g": -1})) == 1.0
    assert penalty.score(Evaluation({}, 5.0, {}, {"g": 1})) == 1.0
    assert penalty.score(Evaluation({}, -2.0, {}, {"g": -1})) == -2.0


@pytest.mark.parametrize("name,module", [("baybe", "baybe"), ("ax", "ax"), ("optuna-gp", "torch")])
def test_missing_peers_are_skipped_with_the_install_command(name: str, module: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    reason = strategies.unavailable(name)
    assert reason is not None and "not installed" in reason and ".[peers]" in reason
    with pytest.raises(SpecError, match="not installed"):
        strategies.build(name, problems.get("branin"), 0, 1)


def test_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(SpecError, match=r"known strategies: .*optuna-tpe"):
        strategies.parse("optuna-tp")
