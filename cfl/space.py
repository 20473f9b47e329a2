"""Parameters and the search space a campaign explores.

Values are frozen and validated when built, so a space that exists is a space that makes sense:
bounds are ordered and finite, names are unique identifiers, categorical levels are distinct.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cfl.errors import SpecError

__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "IntegerParameter",
    "LinearConstraint",
    "ParamValue",
    "Parameter",
    "Point",
    "SearchSpace",
]

ParamValue: TypeAlias = float | int | str
"""One coordinate: float for continuous, int for integer, str for categorical parameters."""

Point: TypeAlias = dict[str, ParamValue]
"""One set of experiment conditions, keyed by parameter name."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"name {name!r} is not an identifier; use letters, digits and underscores, "
            "starting with a letter (e.g. 'residence_time')"
        )
    return name


class ContinuousParameter(_Frozen):
    """A real-valued condition between two finite bounds."""

    type: Literal["continuous"] = "continuous"
    name: str
    low: float
    """Inclusive lower bound."""
    high: float
    """Inclusive upper bound."""
    unit: str | None = None
    log_scale: bool = False
    """Search in log space: for quantities that span decades (catalyst loading, flow rate)."""

    _check_name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _validate_bounds(self) -> ContinuousParameter:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"bounds must be finite, got low={self.low}, high={self.high}")
        if self.low >= self.high:
            raise ValueError(
                f"low must be less than high, got low={self.low}, high={self.high}; swap the bounds"
            )
        if self.log_scale and self.low <= 0:
            raise ValueError(f"log_scale needs low > 0, got low={self.low}")
        return self

    def coerce(self, value: object) -> float:
        """The value as a float inside the bounds, or a ValueError naming the problem."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.name} must be a number, got {value!r}")
        number = float(value)
        if not (self.low <= number <= self.high):
            raise ValueError(f"{self.name}={number} is outside [{self.low}, {self.high}]")
        return number


class IntegerParameter(_Frozen):
    """A whole-number condition between two bounds (replicates, cycles, stirrer setting)."""

    type: Literal["integer"] = "integer"
    name: str
    low: int
    high: int
    unit: str | None = None

    _check_name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _validate_bounds(self) -> IntegerParameter:
        if self.low >= self.high:
            raise ValueError(
                f"low must be less than high, got low={self.low}, high={self.high}; swap the bounds"
            )
        return self

    def coerce(self, value: object) -> int:
        """The value as an int inside the bounds, or a ValueError naming the problem."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.name} must be an integer, got {value!r}")
        if float(value) != int(value):
            raise ValueError(f"{self.name} must be an integer, got {value!r}")
        number = int(value)
        if not (self.low <= number <= self.high):
            raise ValueError(f"{self.name}={number} is outside [{self.low}, {self.high}]")
        return number


class CategoricalParameter(_Frozen):
    """A choice among named levels (solvent, catalyst, base)."""

    type: Literal["categorical"] = "categorical"
    name: str
    levels: tuple[str, ...]

    _check_name = field_validator("name")(_check_name)

    @field_validator("levels")
    @classmethod
    def _validate_levels(cls, levels: tuple[str, ...]) -> tuple[str, ...]:
        if len(levels) < 2:
            raise ValueError(f"needs at least two levels, got {list(levels)}")
        if len(set(levels)) != len(levels):
            raise ValueError(f"levels must be distinct, got {list(levels)}")
        return levels

    def coerce(self, value: object) -> str:
        """The value as one of the levels, or a ValueError naming the problem."""
        if not isinstance(value, str) or value not in self.levels:
            raise ValueError(f"{self.name} must be one of {list(self.levels)}, got {value!r}")
        return value


Parameter: TypeAlias = Annotated[
    ContinuousParameter | IntegerParameter | CategoricalParameter, Field(discriminator="type")
]


class LinearConstraint(_Frozen):
    """A known linear limit on numeric parameters: ``sum(coefficients[name] * x[name]) <= upper``.

    For limits known before any experiment (total flow rate, a volume that must fit the vial);
    limits only a measurement reveals are black-box constraints, reported per evaluation
    (:class:`cfl.planner.Evaluation`). Use negative coefficients for a lower limit.
    """

    coefficients: dict[str, float] = Field(min_length=1)
    upper: float

    def value(self, point: Mapping[str, ParamValue]) -> float:
        """``sum(coefficients[name] * x[name])`` at ``point``."""
        return math.fsum(c * float(point[n]) for n, c in self.coefficients.items())

    def satisfied(self, point: Mapping[str, ParamValue], *, tolerance: float = 1e-9) -> bool:
        """Whether ``point`` keeps the limit (``tolerance`` absorbs rounding)."""
        return self.value(point) <= self.upper + tolerance


class SearchSpace(_Frozen):
    """The parameters a campaign may set, in a fixed order, and the linear limits between them."""

    parameters: tuple[Parameter, ...] = Field(min_length=1)
    constraints: tuple[LinearConstraint, ...] = ()
    """Every point a planner proposes keeps all of these."""

    @field_validator("parameters")
    @classmethod
    def _validate_parameters(cls, parameters: tuple[Parameter, ...]) -> tuple[Parameter, ...]:
        names = [p.name for p in parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"parameter names must be unique, repeated: {duplicates}")
        return parameters

    @model_validator(mode="after")
    def _validate_constraints(self) -> SearchSpace:
        numeric = {p.name for p in self.parameters if not isinstance(p, CategoricalParameter)}
        for i, constraint in enumerate(self.constraints):
            bad = sorted(set(constraint.coefficients) - numeric)
            if bad:
                raise ValueError(
                    f"constraints[{i}] names {bad}, which are not numeric parameters of the "
                    f"space; use some of {sorted(numeric)}"
                )
            lowest = sum(
                c * (self._bound(n, low=c > 0)) for n, c in constraint.coefficients.items()
            )
            if lowest > constraint.upper:
                raise ValueError(
                    f"constraints[{i}] cannot be met anywhere in the bounds: its smallest value "
                    f"is {lowest:g} > upper {constraint.upper:g}; raise upper or widen the bounds"
                )
        return self

    def _bound(self, name: str, *, low: bool) -> float:
        parameter = self.parameter(name)
        assert not isinstance(parameter, CategoricalParameter)
        return float(parameter.low if low else parameter.high)

    def feasible(self, point: Mapping[str, ParamValue]) -> bool:
        """Whether ``point`` keeps every linear constraint of the space."""
        return all(c.satisfied(point) for c in self.constraints)

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names in order."""
        return tuple(p.name for p in self.parameters)

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name``."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise SpecError(f"unknown parameter {name!r}; known: {list(self.names)}")

    def coerce(self, point: Mapping[str, object]) -> Point:
        """Check a point against the space and return it with plain Python values.

        Raises:
            SpecError: a parameter is missing, unknown, of the wrong type or out of bounds.
        """
        unknown = sorted(set(point) - set(self.names))
        if unknown:
            raise SpecError(f"unknown parameters {unknown}; the space has {list(self.names)}")
        missing = [n for n in self.names if n not in point]
        if missing:
            raise SpecError(f"missing parameters {missing}")
        try:
            return {p.name: p.coerce(point[p.name]) for p in self.parameters}
        except ValueError as exc:
            raise SpecError(str(exc)) from exc
