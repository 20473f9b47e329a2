"""Runs and their scores: curves by hand on Branin, the score columns, the initial design."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import problems, strategies
from leaderboard.runs import SEALED_SCORES, SeedRun, run_seed, score_runs, session_run

BRANIN_AT_ORIGIN = 36 + 10 * (1 - 1 / (8 * math.pi)) + 10  # (0 - 0 + 0 - 6)^2 + 10 (1 - t) + 10


def test_session_run_follows_the_best_measured_point_and_scores_it_on_the_truth() -> None:
    branin = problems.get("branin")
    origin = branin.space.coerce({"x1": 0.0, "x2": 0.0})
    minimiser = branin.space.coerce({"x1": math.pi, "x2": 2.275})
    # measured values carry noise: the minimiser first reads worse than the origin
    run = session_run(branin, [(origin, 55.0), (minimiser, 60.0), (minimiser, 1.0)])
    assert run.measured == [55.0, 55.0, 1.0]
    assert run.best == 1.0
    at_origin = BRANIN_AT_ORIGIN - 0.397887
    assert run.regrets[:2] == pytest.approx([at_origin, at_origin])
    assert run.regrets[2] == pytest.approx(0.0, abs=1e-6)


def test_scores_are_means_over_seeds_with_curves_and_the_private_split_apart() -> None:
    public = [
        SeedRun(regrets=[4.0, 2.0], measured=[10.0, 8.0], wall_s=1.0),
        SeedRun(regrets=[6.0, 0.0, 0.0], measured=[9.0, 7.0, 7.0], wall_s=2.0),
    ]
    private = [SeedRun(regrets=[3.0, 1.0], measured=[5.0, 4.0], wall_s=0.5)]
    values = score_runs(public, private)
    assert values["regret"] == pytest.approx(1.0)  # (2 + 0) / 2
    assert values["regret_low"] == 0.0 and values["regret_high"] == 2.0
    assert values["auc"] == pytest.approx((3.0 + 2.0) / 2)  # means of (4, 2) and (6, 0, 0)
    assert values["best"] == pytest.approx(7.5)  # (8 + 7) / 2
    assert values["p_regret"] == 1.0 and values["p_auc"] == 2.0 and values["p_best"] == 4.0
    assert values["curve"] == [5.0, 1.0]  # mean regret, over the shortest run
    assert values["measured_curve"] == [9.5, 7.5]
    assert values["experiments"] == 7 and values["wall_s"] == 3.5
    assert set(SEALED_SCORES) <= set(values)  # every sealed column is computed
    assert "best" not in SEALED_SCORES and "p_best" in SEALED_SCORES


def test_a_run_starts_from_the_initial_design_it_was_given() -> None:
    branin = problems.get("branin")
    run = run_seed(branin, "skopt-default", 0, 5, 1, np.random.default_rng(0), initial=3)
    assert len(run.regrets) == len(run.measured) == 5
    assert run.measured == sorted(run.measured, reverse=True)  # best so far, minimising
    optuna = pytest.importorskip("optuna")
    del optuna
    planner = strategies.build("optuna-tpe", branin, 7, 1, initial=3)
    design = strategies.initial_design(branin.space, 3, 7)
    assert [planner.suggest(1, [])[0] for _ in range(3)] == design
