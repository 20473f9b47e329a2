"""The planner seam, and the default planner: Gaussian-process Bayesian optimisation (skopt).

A planner proposes conditions and learns from results through two methods, ``suggest`` and
``ingest``. It sees one number per experiment, the campaign's score (higher is better), so
objectives, weights and directions stay the campaign's business.

The default planner keeps no hidden state beyond the evaluations it was given: each suggestion
rebuilds scikit-optimize's optimiser from them, so a campaign resumed from the store suggests
exactly what the uninterrupted one would have, and nothing is pickled.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from skopt import Optimizer
from skopt.sampler import Lhs
from skopt.space import Categorical, Dimension, Integer, Real, Space
from threadpoolctl import threadpool_limits

from cfl.campaign import score
from cfl.space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParamValue,
    Point,
    SearchSpace,
)
from cfl.spec import CampaignSpec

__all__ = [
    "Converges",
    "Evaluation",
    "Planner",
    "RandomPlanner",
    "Recommends",
    "SkoptPlanner",
    "WarmStarts",
    "evaluation_of",
]


@dataclass(frozen=True)
class Evaluation:
    """Conditions that were run and the score they earned (higher is better).

    ``score`` is what single-objective planners maximise (the campaign's weighted score).
    Multi-objective planners read ``objectives`` instead: each objective's value, signed so that
    higher is better. ``constraints`` are black-box limits only a measurement reveals, each
    feasible when its value is ``<= 0``.
    """

    params: Point
    score: float
    objectives: Mapping[str, float] = field(default_factory=dict)
    constraints: Mapping[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """Whether every black-box constraint was kept (true when there are none)."""
        return all(v <= 0 for v in self.constraints.values())


def evaluation_of(spec: CampaignSpec, params: Point, values: Mapping[str, float]) -> Evaluation:
    """What a planner learns from one observation of a campaign run under ``spec``.

    Always the weighted score (:func:`cfl.campaign.score`); with ``plan_for: front`` also each
    objective with a weight above 0, signed so that higher is better, for planners that map the
    Pareto front.
    """
    objectives = {}
    if spec.plan_for == "front":
        objectives = {
            o.name: (1.0 if o.direction == "maximize" else -1.0) * float(values[o.name])
            for o in spec.objectives
            if o.weight > 0
        }
    return Evaluation(params, score(spec, dict(values)), objectives=objectives)


@runtime_checkable
class Planner(Protocol):
    """Proposes experiments and learns from their results."""

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        """Propose ``n`` new conditions, given experiments still running or queued.

        ``pending`` conditions will be measured soon: a good planner does not propose them again
        and spreads the batch around them.
        """
        ...

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        """Learn from finished experiments (each passed exactly once)."""
        ...


@runtime_checkable
class Converges(Protocol):
    """A planner that can tell when more experiments are unlikely to help (``stop.converged``)."""

    def stop_reason(self) -> str | None:
        """Why the campaign may stop now, in words for the ledger; ``None`` to go on."""
        ...


@runtime_checkable
class Recommends(Protocol):
    """A planner that names the best conditions from its model, not from one lucky reading."""

    def best(self) -> Point | None:
        """The evaluated conditions the model rates best; ``None`` before any result."""
        ...


@runtime_checkable
class WarmStarts(Protocol):
    """A planner that learns from earlier campaigns' results (the spec's ``warm_start``)."""

    def warm_start(self, evaluations: Sequence[Evaluation]) -> None:
        """Take results of earlier campaigns as model data, before any suggestion.

        They must not count toward this campaign's initial design or be reported as its best.
        """
        ...


def skopt_point(space: SearchSpace, row: Sequence[object]) -> Point:
    """A skopt row as a point of plain Python values (skopt hands out numpy scalars)."""
    point: Point = {}
    for parameter, value in zip(space.parameters, row, strict=True):
        if isinstance(parameter, ContinuousParameter):
            point[parameter.name] = float(value)  # type: ignore[arg-type]
        elif isinstance(parameter, IntegerParameter):
            point[parameter.name] = int(value)  # type: ignore[call-overload]
        else:
            point[parameter.name] = str(value)
    return point


def skopt_dimension(
    parameter: ContinuousParameter | IntegerParameter | CategoricalParameter,
) -> Dimension:
    if isinstance(parameter, ContinuousParameter):
        prior = "log-uniform" if parameter.log_scale else "uniform"
        return Real(parameter.low, parameter.high, prior=prior, name=parameter.name)
    if isinstance(parameter, IntegerParameter):
        return Integer(parameter.low, parameter.high, name=parameter.name)
    return Categorical(list(parameter.levels), name=parameter.name)


class SkoptPlanner:
    """GP-EI Bayesian optimisation on scikit-optimize, with a space-filling start.

    * The first ``initial_design`` experiments come from a maximin Latin hypercube fixed by the
      seed, handed out in order and skipping any already pending.
    * After that, a Gaussian process (Matérn 5/2 with one length scale per dimension and a noise
      term, scikit-optimize's ``GP`` estimator) is fitted to ``-score`` and expected improvement
      picks the next point. Batches and pending experiments use the constant liar ``CL-min``
      [Ginsbourger2010]_: a pending point is assumed to score as well as the best so far, which
      pushes the rest of the batch elsewhere.

    .. [Ginsbourger2010] D. Ginsbourger, R. Le Riche, L. Carraro, "Kriging is well-suited to
       parallelize optimization", in Computational Intelligence in Expensive Optimization
       Problems, Springer (2010).
    """

    def __init__(self, space: SearchSpace, *, seed: int, initial_design: int) -> None:
        self._space = space
        self._dims = [skopt_dimension(p) for p in space.parameters]
        self._seed = seed
        self._initial_design = initial_design
        self._evaluations: list[Evaluation] = []
        self._initial = [
            self._point(x)
            for x in Lhs(criterion="maximin", iterations=200).generate(
                Space(self._dims).dimensions, initial_design, random_state=seed
            )
        ]

    @classmethod
    def from_spec(cls, spec: CampaignSpec) -> SkoptPlanner:
        """The planner a campaign spec asks for."""
        return cls(spec.space, seed=spec.seed, initial_design=spec.initial_design)

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        self._evaluations.extend(evaluations)

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n=}")
        chosen: list[Point] = []
        used = {self._key(e.params) for e in self._evaluations} | {self._key(p) for p in pending}
        started = len(self._evaluations) + len(pending)
        for point in self._initial:
            if len(chosen) == n or started + len(chosen) >= self._initial_design:
                break
            if self._key(point) not in used:
                chosen.append(point)
        missing = n - len(chosen)
        if missing == 0:
            return chosen
        if len(self._evaluations) < 2:  # a GP needs data; fill with seeded random points
            rng = np.random.RandomState(self._seed + len(self._evaluations) + len(pending))
            return chosen + [
                self._point(x) for x in Space(self._dims).rvs(missing, random_state=rng)
            ]
        # The matrices here are tiny: multi-threaded BLAS only spins (4x slower on 2 cores).
        with threadpool_limits(limits=1):
            optimizer = self._fit(list(pending) + chosen)
            rows = optimizer.ask(n_points=missing, strategy="cl_min")
        return chosen + [self._point(x) for x in rows]

    def _fit(self, pending: Sequence[Point]) -> Optimizer:
        optimizer = Optimizer(
            self._dims,
            base_estimator="GP",
            acq_func="EI",
            n_initial_points=0,
            random_state=self._seed * 1_000_003 + len(self._evaluations),
        )
        xs = [self._row(e.params) for e in self._evaluations]
        ys = [-e.score for e in self._evaluations]
        lie = min(ys)
        xs += [self._row(p) for p in pending]
        ys += [lie] * len(pending)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skopt warns on repeated points; repeats are fine
            optimizer.tell(xs, ys)
        return optimizer

    def _row(self, point: Point) -> list[ParamValue]:
        return [point[name] for name in self._space.names]

    def _point(self, row: Sequence[object]) -> Point:
        return skopt_point(self._space, row)

    def _key(self, point: Point) -> tuple[ParamValue, ...]:
        return tuple(point[name] for name in self._space.names)


class RandomPlanner:
    """Uniform random conditions, seeded: the baseline every planner must beat.

    Also the planner of choice when planning is not what is being measured (the dispatcher
    benchmark), since it costs microseconds at any number of observations.
    """

    def __init__(self, space: SearchSpace, *, seed: int) -> None:
        self._space = space
        self._dims = [skopt_dimension(p) for p in space.parameters]
        self._seed = seed
        self._seen = 0

    @classmethod
    def from_spec(cls, spec: CampaignSpec) -> RandomPlanner:
        """The planner a campaign spec asks for."""
        return cls(spec.space, seed=spec.seed)

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        self._seen += len(evaluations)

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n=}")
        # seeded by how much was already asked, so a resumed campaign draws what it would have
        rng = np.random.RandomState(self._seed * 1_000_003 + self._seen + len(pending))
        rows = Space(self._dims).rvs(n, random_state=rng)
        return [skopt_point(self._space, row) for row in rows]
