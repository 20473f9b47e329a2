"""The one protocol every benchmark problem satisfies, and the generic frozen problem.

A problem is a search space plus a response: ``truth`` is the noiseless response (what regret is
scored on), ``evaluate`` the measured one (what a planner sees; noisy where the problem is).
Each objective keeps its natural units and direction, so a problem reads like its paper; the
sign flips that turn everything into higher-is-better live in :meth:`ObjectiveSpec.gain`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from cfl.space import ContinuousParameter, Point, SearchSpace

__all__ = ["FunctionProblem", "ObjectiveSpec", "Outcome", "Problem", "box", "vector"]


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective: its name, which way is better, and its weight in the scalarised score."""

    name: str
    direction: Literal["minimize", "maximize"]
    weight: float = 1.0
    """Weight in :meth:`Problem.score`, the single number single-objective planners maximise."""
    noise_sd: float | None = None
    """Measurement scatter a lab would state for this objective (``None``: noiseless)."""

    @property
    def sign(self) -> float:
        """+1 for an objective to maximise, -1 for one to minimise."""
        return 1.0 if self.direction == "maximize" else -1.0

    def gain(self, value: float) -> float:
        """``value`` signed so that higher is better."""
        return self.sign * value


@dataclass(frozen=True)
class Outcome:
    """What one experiment yields: each objective's value, and black-box constraint values."""

    values: Mapping[str, float]
    """Objective name to value, in the objective's own units and direction."""
    constraints: Mapping[str, float] = field(default_factory=dict)
    """Constraint name to value; feasible when every value is ``<= 0``."""

    @property
    def feasible(self) -> bool:
        """Whether every black-box constraint holds."""
        return all(v <= 0 for v in self.constraints.values())


@runtime_checkable
class Problem(Protocol):
    """A benchmark problem with a known best value."""

    @property
    def name(self) -> str: ...

    @property
    def space(self) -> SearchSpace: ...

    @property
    def objectives(self) -> tuple[ObjectiveSpec, ...]: ...

    @property
    def optimum(self) -> float:
        """Best true value (one objective) or best attainable hypervolume (two objectives)."""
        ...

    @property
    def noisy(self) -> bool:
        """Whether measurements scatter, so the best measured point may not be the best one."""
        ...

    @property
    def reference_point(self) -> tuple[float, ...] | None:
        """Hypervolume reference point in objective units (``None`` for one objective)."""
        ...

    def evaluate(self, point: Point, rng: np.random.Generator) -> Outcome:
        """The measured outcome at ``point`` (noisy where the problem is noisy)."""
        ...

    def truth(self, point: Point) -> Outcome:
        """The noiseless outcome at ``point``: what regret is computed from."""
        ...

    @property
    def infeasible_value(self) -> float | None:
        """The incumbent value while no feasible point was evaluated (``None``: unconstrained)."""
        ...

    def score(self, outcome: Outcome) -> float:
        """One higher-is-better number for planners that see one: the weighted sum of gains."""
        ...


Response = Callable[[Point], Mapping[str, float]]


@dataclass(frozen=True)
class FunctionProblem:
    """A problem given by a noiseless response, Gaussian measurement noise and constraints.

    Noise is ``value * (1 + N(0, relative_noise))`` then ``+ N(0, noise_sd)``, on every objective
    in ``noisy``; constraint values are never noisy (they are known once measured).
    """

    name: str
    space: SearchSpace
    objectives: tuple[ObjectiveSpec, ...]
    optimum: float
    response: Response
    """Point to objective values (noiseless)."""
    constraint_response: Callable[[Point], Mapping[str, float]] | None = None
    noise_sd: float = 0.0
    relative_noise: float = 0.0
    noisy_objectives: tuple[str, ...] = ()
    """Objectives that are measured with noise (all of them when empty and noise is set)."""
    reference_point: tuple[float, ...] | None = None
    optimum_point: Point | None = None
    """Where the optimum is (single-objective problems), for tests and documentation."""
    infeasible_value: float | None = None
    """The incumbent value while no feasible point was evaluated (constrained problems)."""

    @property
    def noisy(self) -> bool:
        return self.noise_sd > 0 or self.relative_noise > 0

    def truth(self, point: Point) -> Outcome:
        values = {k: float(v) for k, v in self.response(point).items()}
        constraints = (
            {}
            if self.constraint_response is None
            else {k: float(v) for k, v in self.constraint_response(point).items()}
        )
        return Outcome(values, constraints)

    def evaluate(self, point: Point, rng: np.random.Generator) -> Outcome:
        true = self.truth(point)
        if self.noise_sd == 0 and self.relative_noise == 0:
            return true
        noisy = self.noisy_objectives or tuple(o.name for o in self.objectives)
        values = dict(true.values)
        for name in noisy:
            value = values[name]
            if self.relative_noise:
                value *= 1 + rng.normal(0.0, self.relative_noise)
            if self.noise_sd:
                value += rng.normal(0.0, self.noise_sd)
            values[name] = float(value)
        return Outcome(values, true.constraints)

    def score(self, outcome: Outcome) -> float:
        return float(sum(o.weight * o.gain(outcome.values[o.name]) for o in self.objectives))


def box(names: tuple[str, ...], low: tuple[float, ...], high: tuple[float, ...]) -> SearchSpace:
    """A space of continuous parameters with the given bounds."""
    return SearchSpace(
        parameters=tuple(
            ContinuousParameter(name=n, low=lo, high=hi)
            for n, lo, hi in zip(names, low, high, strict=True)
        )
    )


def vector(point: Point, names: tuple[str, ...]) -> NDArray[np.float64]:
    """The numeric coordinates ``names`` of ``point`` as an array."""
    return np.array([float(point[n]) for n in names])
