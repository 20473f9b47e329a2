from __future__ import annotations

import math

import numpy as np
import pytest

from cfl.planner import Evaluation, Planner, SkoptPlanner
from cfl.space import (
    ContinuousParameter,
    Point,
    SearchSpace,
)
from tests.cfl.spaces import MIXED


def _score(p: Point) -> float:
    """Peak at x=0.7, k=3, solvent B, flow=1."""
    bonus = {"A": 0.0, "B": 1.0, "C": 0.3}[str(p["solvent"])]
    return (
        -((float(p["x"]) - 0.7) ** 2)
        - 0.1 * (int(p["k"]) - 3) ** 2
        + bonus
        - 0.05 * math.log10(float(p["flow"])) ** 2
    )


def test_is_a_planner() -> None:
    assert isinstance(SkoptPlanner(MIXED, seed=0, initial_design=4), Planner)


def test_suggestions_are_valid_plain_python_points() -> None:
    planner = SkoptPlanner(MIXED, seed=1, initial_design=4)
    for _ in range(3):
        batch = planner.suggest(3, [])
        for p in batch:
            assert MIXED.coerce(p) == p
            assert type(p["x"]) is float and type(p["k"]) is int and type(p["solvent"]) is str
        planner.ingest([Evaluation(p, _score(p)) for p in batch])


def test_initial_design_is_a_latin_hypercube_handed_out_in_order() -> None:
    space = SearchSpace(
        parameters=(
            ContinuousParameter(name="x", low=0, high=1),
            ContinuousParameter(name="y", low=0, high=1),
        )
    )
    planner = SkoptPlanner(space, seed=3, initial_design=4)
    first = planner.suggest(2, [])
    second = planner.suggest(2, first)  # the first two are pending: the next two come out
    points = first + second
    for name in ("x", "y"):  # one point in each quarter of each axis
        assert sorted(int(p[name] * 4) for p in points) == [0, 1, 2, 3]
    assert SkoptPlanner(space, seed=3, initial_design=4).suggest(4, []) == points


def test_batch_points_are_distinct_and_avoid_pending() -> None:
    planner = SkoptPlanner(MIXED, seed=2, initial_design=4)
    start = planner.suggest(4, [])
    planner.ingest([Evaluation(p, _score(p)) for p in start])
    pending = planner.suggest(2, [])
    batch = planner.suggest(4, pending)
    keys = [tuple(p.values()) for p in batch + pending]
    assert len(set(keys)) == len(keys)


def test_rebuilt_planner_suggests_the_same() -> None:
    a = SkoptPlanner(MIXED, seed=5, initial_design=4)
    history: list[Evaluation] = []
    for _ in range(2):
        batch = a.suggest(4, [])
        evaluations = [Evaluation(p, _score(p)) for p in batch]
        a.ingest(evaluations)
        history.extend(evaluations)
    b = SkoptPlanner(MIXED, seed=5, initial_design=4)
    b.ingest(history)
    assert a.suggest(2, []) == b.suggest(2, [])


def test_finds_the_peak_far_better_than_its_initial_design() -> None:
    planner = SkoptPlanner(MIXED, seed=0, initial_design=6)
    scores: list[float] = []
    for _ in range(6):
        batch = planner.suggest(3, [])
        evaluations = [Evaluation(p, _score(p)) for p in batch]
        planner.ingest(evaluations)
        scores.extend(e.score for e in evaluations)
    assert max(scores) > max(scores[:6])
    assert max(scores) > 0.9  # optimum 1.0; regret below 0.1 after 18 evaluations


def test_n_must_be_positive() -> None:
    with pytest.raises(ValueError, match="n=0"):
        SkoptPlanner(MIXED, seed=0, initial_design=2).suggest(0, [])


def test_random_fill_when_too_little_data_for_a_model() -> None:
    planner = SkoptPlanner(MIXED, seed=0, initial_design=1)
    points = planner.suggest(3, [])
    assert len(points) == 3 and len({tuple(p.values()) for p in points}) == 3
    assert all(np.isfinite(float(p["x"])) for p in points)
