"""What a participant may send: validated data only, never code, with size limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from benchmarks import strategies

__all__ = [
    "MAX_BODY",
    "ExperimentRequest",
    "RegisterRequest",
    "SessionRequest",
    "StrategyConfig",
]

MAX_BODY = 16_384
"""Bytes a request body may hold (larger ones get 413)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class StrategyConfig(_Strict):
    """A strategy submission: which planner, how it is driven. Never executed as code.

    ``strategy`` is a name from ``cfl bench``'s registry (the ``cfl.planners`` entry points:
    ``random``, ``skopt-gp``, ``cfl-gp``; and installed peers such as ``optuna-tpe``), built with
    its documented defaults (:func:`benchmarks.strategies.campaign_spec`: a 10-point maximin
    Latin hypercube start). ``batch``: points asked per round (1-8). ``budget``: experiments per
    seed, at most the problem's (default: the problem's). ``initial_design``: space-filling
    experiments (the shared maximin Latin hypercube) before the strategy's model takes over.
    """

    name: str = Field(min_length=1, max_length=80)
    strategy: str = Field(min_length=1, max_length=40)
    batch: int = Field(default=1, ge=1, le=8)
    budget: int | None = Field(default=None, ge=1, le=60)
    initial_design: int = Field(default=strategies.INITIAL_DESIGN, ge=1, le=60)

    @field_validator("strategy")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in strategies.names():
            raise ValueError(f"unknown strategy {value!r}; use one of {strategies.names()}")
        return value


class RegisterRequest(_Strict):
    name: str = Field(min_length=1, max_length=80)


class SessionRequest(_Strict):
    name: str = Field(default="session", min_length=1, max_length=80)


class ExperimentRequest(_Strict):
    params: dict[str, float] = Field(max_length=32)
