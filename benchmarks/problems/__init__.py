"""Benchmark problems with known optima, by name.

Each module holds one problem, its formula and its source; :func:`get` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.problems import (
    ackley5,
    branin,
    constrained_hartmann6,
    hartmann6,
    mixed5,
    noisy_hartmann6,
    snar,
    snar_cost,
)
from benchmarks.problems.base import FunctionProblem, ObjectiveSpec, Outcome, Problem
from cfl.errors import SpecError

__all__ = ["NAMES", "ObjectiveSpec", "Outcome", "Problem", "get", "parse"]

_FACTORIES: dict[str, Callable[[], FunctionProblem]] = {
    "branin": branin.problem,
    "hartmann6": hartmann6.problem,
    "ackley5": ackley5.problem,
    "mixed5": mixed5.problem,
    "snar": snar.problem,
    "noisy_hartmann6": noisy_hartmann6.problem,
    "constrained_hartmann6": constrained_hartmann6.problem,
    "snar_cost": snar_cost.problem,
}
NAMES: tuple[str, ...] = tuple(_FACTORIES)
"""Every problem, in the report's order."""


def get(name: str) -> Problem:
    """The problem called ``name``.

    Raises:
        SpecError: no problem has that name.
    """
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise SpecError(f"unknown problem {name!r}; known problems: {', '.join(NAMES)}") from None


def parse(names: str) -> list[str]:
    """Comma-separated problem names (``all`` for every one), checked.

    Raises:
        SpecError: a name is unknown.
    """
    if names.strip() == "all":
        return list(NAMES)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    for name in chosen:
        get(name)
    if not chosen:
        raise SpecError(f"no problem named in {names!r}; use some of: {', '.join(NAMES)}")
    return chosen
