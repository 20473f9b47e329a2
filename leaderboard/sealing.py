"""Hidden simulated labs: a known benchmark problem disguised by secret parameters, sealed.

A *family* is a base problem of :mod:`benchmarks.problems` with one objective, a continuous box
and a known optimum location (``branin``, ``hartmann6``, ``ackley5``, ``snar``). A hidden lab of
that family is the base problem seen through a secret transformation, drawn from a secret seed:

* each coordinate is seen through a secret **window** of the base box (60-90 % of its width,
  placed so that the base's optimum stays inside), rescaled to ``[0, 1]``, and maybe
  **mirrored** (``u -> 1 - u``): every hidden lab's space is the unit cube, so bounds give
  nothing away;
* the parameters are **renamed in a secret order** (``x1..xd`` are a permutation of the base's);
* the response is **scaled and offset** (``a * f + b``, ``a`` in [0.5, 2], ``b`` in [-10, 10]
  times the base's scale), so the optimum *value* is hidden too;
* measurement noise: the base's own, plus Gaussian noise of a secret 0.5-2 % of the value scale.

The parameters and a 32-byte random salt are committed before the problem opens::

    commitment = SHA-256( canonical_json({"problem": id, "params": params, "salt": salt_hex}) )

(:mod:`cfl.canonical`, the bytes the ledger hashes). The commitment goes into the leaderboard
ledger (:mod:`leaderboard.ledger`) in a signed record; at close the reveal publishes ``params``
and ``salt`` and :func:`check_reveal` recomputes the hash. Anyone holding the reveal can rebuild
the problem with :func:`build` and check every score.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import JsonValue

from benchmarks import problems as registry
from benchmarks.problems.base import FunctionProblem, ObjectiveSpec
from cfl.canonical import canonical_json, sha256_hex
from cfl.errors import SpecError
from cfl.space import ContinuousParameter, Point, SearchSpace

__all__ = [
    "FAMILIES",
    "HiddenLab",
    "Sealed",
    "build",
    "check_reveal",
    "commitment",
    "draw_params",
    "seal",
]

FAMILIES: tuple[str, ...] = ("branin", "hartmann6", "ackley5", "snar")
"""Base problems a hidden lab can be drawn from."""

_WINDOW = (0.6, 0.9)
_SCALE = (0.5, 2.0)
_OFFSET = 10.0
_NOISE = (0.005, 0.02)
_VALUE_SCALE = {"branin": 50.0, "hartmann6": 1.0, "ackley5": 5.0, "snar": 50.0}
"""Rough spread of each base response, so offsets and noise are of a sensible size."""


def _base(family: str) -> FunctionProblem:
    if family not in FAMILIES:
        raise SpecError(f"unknown family {family!r}; use one of: {', '.join(FAMILIES)}")
    base = registry.get(family)
    assert isinstance(base, FunctionProblem)
    return base


def draw_params(family: str, seed: int) -> dict[str, JsonValue]:
    """The secret parameters of a hidden lab of ``family``, drawn from ``seed``."""
    base = _base(family)
    rng = np.random.default_rng(seed)
    d = len(base.space.parameters)
    scale = _VALUE_SCALE[family]
    assert base.optimum_point is not None
    sizes = rng.uniform(*_WINDOW, d)
    starts: list[JsonValue] = []
    for p, size in zip(base.space.parameters, sizes, strict=True):
        assert isinstance(p, ContinuousParameter)
        at = (float(base.optimum_point[p.name]) - p.low) / (p.high - p.low)
        starts.append(float(rng.uniform(max(0.0, at - size), min(at, 1.0 - size))))
    found: dict[str, JsonValue] = {
        "family": family,
        "window_start": list(starts),
        "window_size": [float(v) for v in sizes],
        "mirror": [bool(v) for v in rng.random(d) < 0.5],
        "order": [int(v) for v in rng.permutation(d)],
        "scale": float(rng.uniform(*_SCALE)),
        "offset": float(rng.uniform(-_OFFSET, _OFFSET) * scale / 10),
        "noise_sd": float(rng.uniform(*_NOISE) * scale),
    }
    return found


@dataclass(frozen=True)
class HiddenLab:
    """A built hidden lab: the problem participants face, and where its optimum is."""

    problem: FunctionProblem
    optimum_point: Point


def build(problem_id: str, params: Mapping[str, Any]) -> HiddenLab:
    """The problem a hidden lab's ``params`` describe (see the module docstring).

    Raises:
        SpecError: the parameters do not fit their family.
    """
    family = str(params["family"])
    base = _base(family)
    names = base.space.names
    d = len(names)
    start = [float(v) for v in params["window_start"]]
    size = [float(v) for v in params["window_size"]]
    mirror = [bool(v) for v in params["mirror"]]
    order = [int(v) for v in params["order"]]
    lists = (start, size, mirror, order)
    if any(len(v) != d for v in lists) or sorted(order) != list(range(d)):
        raise SpecError(f"params do not fit family {family!r} ({d} coordinates)")
    a, b, noise = float(params["scale"]), float(params["offset"]), float(params["noise_sd"])
    lows, widths = [], []
    for p in base.space.parameters:
        assert isinstance(p, ContinuousParameter)
        lows.append(p.low)
        widths.append(p.high - p.low)
    hidden = tuple(ContinuousParameter(name=f"x{j + 1}", low=0.0, high=1.0) for j in range(d))

    def to_base(point: Point) -> Point:
        base_point: Point = {}
        for j, i in enumerate(order):
            u = float(point[f"x{j + 1}"])
            if mirror[i]:
                u = 1.0 - u
            base_point[names[i]] = lows[i] + widths[i] * (start[i] + size[i] * u)
        return base_point

    def from_base(point: Mapping[str, Any]) -> Point:
        hidden_point: Point = {}
        for j, i in enumerate(order):
            u = ((float(point[names[i]]) - lows[i]) / widths[i] - start[i]) / size[i]
            hidden_point[f"x{j + 1}"] = 1.0 - u if mirror[i] else u
        return hidden_point

    objective = base.objectives[0]

    def response(point: Point) -> Mapping[str, float]:
        value = base.response(to_base(point))[objective.name]
        return {"y": a * value + b}

    assert base.optimum_point is not None
    optimum_point = from_base(base.optimum_point)
    problem = FunctionProblem(
        name=problem_id,
        space=SearchSpace(parameters=hidden),
        objectives=(ObjectiveSpec("y", objective.direction, noise_sd=noise),),
        optimum=a * base.optimum + b,
        response=response,
        noise_sd=noise,
        relative_noise=base.relative_noise,
        optimum_point=optimum_point,
    )
    return HiddenLab(problem, optimum_point)


def commitment(problem_id: str, params: Mapping[str, Any], salt: str) -> str:
    """SHA-256 of ``canonical_json({"problem", "params", "salt"})``, hex."""
    return sha256_hex(canonical_json({"problem": problem_id, "params": dict(params), "salt": salt}))


def check_reveal(problem_id: str, params: Mapping[str, Any], salt: str, committed: str) -> bool:
    """Whether revealed ``params`` and ``salt`` are what ``committed`` sealed."""
    return secrets.compare_digest(commitment(problem_id, params, salt), committed)


@dataclass(frozen=True)
class Sealed:
    """A freshly sealed hidden lab: the secret (kept by the server) and its commitment."""

    problem_id: str
    params: dict[str, JsonValue]
    salt: str
    commitment: str
    noise_key: int
    """Secret seed of the measurement noise (not part of the problem; kept with the secret)."""


def seal(problem_id: str, family: str, *, seed: int | None = None) -> Sealed:
    """Draw a hidden lab of ``family`` from a secret seed (``seed``: for tests) and commit to it."""
    secret_seed = secrets.randbits(128) if seed is None else seed
    params = draw_params(family, secret_seed)
    salt = secrets.token_hex(32)
    return Sealed(
        problem_id=problem_id,
        params=params,
        salt=salt,
        commitment=commitment(problem_id, params, salt),
        noise_key=secrets.randbits(63),
    )
