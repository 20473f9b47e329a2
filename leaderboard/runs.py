"""Runs on a hidden lab and the scores they earn: the server-side half of a submission.

A strategy submission is run here, seed by seed (:func:`run_seed`), and an interactive session's
experiments are read back into the same shape (:func:`session_run`); :func:`score_runs` turns the
runs of the public and private seeds into the columns the board sorts on. Everything here may
read the sealed truth; what of it is shown, and when, is the board's business
(:mod:`leaderboard.boards`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks import strategies
from benchmarks.problems.base import FunctionProblem
from benchmarks.scoring import regret_of_value
from cfl.errors import CFLError
from cfl.planner import Evaluation
from cfl.space import Point
from leaderboard.scoring import auc, summarise

__all__ = ["SEALED_SCORES", "SeedRun", "run_seed", "score_runs", "session_run"]

SEALED_SCORES = (
    "regret", "regret_low", "regret_high", "auc", "auc_low", "auc_high",
    "p_regret", "p_regret_low", "p_regret_high", "p_auc", "p_best",
)  # fmt: skip
"""Score columns computed from the sealed truth, or from the private seeds: kept out of sight
(and out of the problem's ledger, which holds only their hash) until the problem closes."""


@dataclass(frozen=True)
class SeedRun:
    """One seed of one strategy (or one session): its regret and best-measured curves."""

    regrets: list[float]
    """Regret of the incumbent (the best measured point so far) on the truth, per experiment."""
    measured: list[float]
    """Best measured value so far, in the objective's units, per experiment."""
    wall_s: float

    @property
    def best(self) -> float:
        """Best measured value of the run."""
        return self.measured[-1]


def _curves(
    problem: FunctionProblem, done: Sequence[tuple[Point, float]]
) -> tuple[list[float], list[float]]:
    """Regret and best-measured curves of the experiments ``done``, in order."""
    objective = problem.objectives[0]
    regrets: list[float] = []
    measured: list[float] = []
    incumbent: tuple[Point, float] | None = None
    true_value = 0.0
    for point, value in done:
        if incumbent is None or objective.gain(value) > objective.gain(incumbent[1]):
            incumbent = (point, value)
            true_value = problem.truth(point).values[objective.name]
        regrets.append(regret_of_value(problem, true_value))
        measured.append(float(incumbent[1]))
    return regrets, measured


def run_seed(
    problem: FunctionProblem,
    strategy: str,
    seed: int,
    budget: int,
    batch: int,
    noise: np.random.Generator,
    initial: int = strategies.INITIAL_DESIGN,
) -> SeedRun:
    """Run ``strategy`` on ``problem`` for ``budget`` experiments in synchronous rounds.

    Args:
        problem: The hidden lab's problem (noise drawn from ``noise``).
        strategy: A name from :func:`benchmarks.strategies.names`.
        seed: The strategy's seed (also seeds its initial design).
        budget: Experiments to run.
        batch: Points asked for per round.
        noise: The measurement noise's generator.
        initial: Space-filling experiments before the strategy's model takes over.
    """
    started = time.perf_counter()
    planner = strategies.build(strategy, problem, seed, batch, initial)
    objective = problem.objectives[0]
    done: list[tuple[Point, float]] = []
    while len(done) < budget:
        n = min(batch, budget - len(done))
        suggested = planner.suggest(n, [])
        if len(suggested) != n:
            raise CFLError(f"{strategy} suggested {len(suggested)} points when asked for {n}")
        measured = []
        for raw in suggested:
            point = problem.space.coerce(raw)
            measured.append((point, problem.evaluate(point, noise)))
        planner.ingest(
            [
                Evaluation(
                    params=p,
                    score=problem.score(m),
                    objectives={objective.name: objective.gain(m.values[objective.name])},
                )
                for p, m in measured
            ]
        )
        done.extend((point, outcome.values[objective.name]) for point, outcome in measured)
    regrets, best = _curves(problem, done)
    return SeedRun(regrets, best, time.perf_counter() - started)


def session_run(problem: FunctionProblem, done: Sequence[tuple[Point, float]]) -> SeedRun:
    """An interactive session's experiments ``(point, measured value)``, in order, as a run."""
    if not done:
        raise ValueError("a session with no experiments has no run to score")
    regrets, best = _curves(problem, done)
    return SeedRun(regrets, best, 0.0)


def _mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    length = min(len(c) for c in curves)
    return [float(np.mean([c[i] for c in curves])) for i in range(length)]


def score_runs(public: Sequence[SeedRun], private: Sequence[SeedRun]) -> dict[str, Any]:
    """The submission's score columns (see :mod:`leaderboard.db`) from its runs.

    Means with bootstrap 95 % CIs over the public seeds (:func:`leaderboard.scoring.summarise`),
    means over the private ones, the mean regret and best-measured curves of the public seeds
    (as lists), the experiments run and the wall time.
    """
    if not public:
        raise ValueError("no public run to score")
    r = summarise([run.regrets[-1] for run in public])
    a = summarise([auc(run.regrets) for run in public])
    b = summarise([run.best for run in public])
    values: dict[str, Any] = {
        "regret": r.mean, "regret_low": r.low, "regret_high": r.high,
        "auc": a.mean, "auc_low": a.low, "auc_high": a.high,
        "best": b.mean, "best_low": b.low, "best_high": b.high,
    }  # fmt: skip
    if private:
        pr = summarise([run.regrets[-1] for run in private])
        values.update(
            p_regret=pr.mean,
            p_regret_low=pr.low,
            p_regret_high=pr.high,
            p_auc=float(np.mean([auc(run.regrets) for run in private])),
            p_best=float(np.mean([run.best for run in private])),
        )
    values["curve"] = _mean_curve([run.regrets for run in public])
    values["measured_curve"] = _mean_curve([run.measured for run in public])
    values["experiments"] = sum(len(run.regrets) for run in [*public, *private])
    values["wall_s"] = float(sum(run.wall_s for run in [*public, *private]))
    return values
