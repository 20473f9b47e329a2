from __future__ import annotations

import pytest
from pydantic import ValidationError

from cfl.errors import SpecError
from cfl.space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    LinearConstraint,
    SearchSpace,
)


def test_reversed_bounds_name_both_values_and_the_fix() -> None:
    with pytest.raises(ValidationError, match=r"low=120.0, high=30.0; swap the bounds"):
        ContinuousParameter(name="temperature", low=120, high=30)


def test_log_scale_needs_positive_low() -> None:
    with pytest.raises(ValidationError, match="log_scale needs low > 0"):
        ContinuousParameter(name="loading", low=0, high=1, log_scale=True)


def test_names_must_be_identifiers() -> None:
    with pytest.raises(ValidationError, match="is not an identifier"):
        IntegerParameter(name="2cycles", low=1, high=3)


def test_categorical_levels_distinct_and_at_least_two() -> None:
    with pytest.raises(ValidationError, match="at least two levels"):
        CategoricalParameter(name="solvent", levels=("EtOH",))
    with pytest.raises(ValidationError, match="distinct"):
        CategoricalParameter(name="solvent", levels=("EtOH", "EtOH"))


def test_space_rejects_repeated_names() -> None:
    with pytest.raises(ValidationError, match=r"repeated: \['x'\]"):
        SearchSpace(
            parameters=(
                ContinuousParameter(name="x", low=0, high=1),
                IntegerParameter(name="x", low=0, high=3),
            )
        )


@pytest.fixture
def mixed() -> SearchSpace:
    return SearchSpace(
        parameters=(
            ContinuousParameter(name="t", low=30, high=120),
            IntegerParameter(name="n", low=1, high=5),
            CategoricalParameter(name="solvent", levels=("EtOH", "MeCN")),
        )
    )


def test_coerce_returns_plain_python_values(mixed: SearchSpace) -> None:
    point = mixed.coerce({"t": 40, "n": 3.0, "solvent": "MeCN"})
    assert point == {"t": 40.0, "n": 3, "solvent": "MeCN"}
    assert type(point["t"]) is float and type(point["n"]) is int


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"t": 200, "n": 3, "solvent": "MeCN"}, r"t=200.0 is outside \[30.0, 120.0\]"),
        ({"t": 40, "n": 2.5, "solvent": "MeCN"}, "n must be an integer, got 2.5"),
        ({"t": 40, "n": 3, "solvent": "water"}, r"solvent must be one of \['EtOH', 'MeCN'\]"),
        ({"t": 40, "n": 3}, r"missing parameters \['solvent'\]"),
        ({"t": 40, "n": 3, "solvent": "EtOH", "p": 1}, r"unknown parameters \['p'\]"),
        ({"t": True, "n": 3, "solvent": "EtOH"}, "t must be a number"),
    ],
)
def test_coerce_names_the_problem(
    mixed: SearchSpace, point: dict[str, object], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        mixed.coerce(point)


def test_parameter_lookup(mixed: SearchSpace) -> None:
    assert mixed.names == ("t", "n", "solvent")
    assert mixed.parameter("n") == IntegerParameter(name="n", low=1, high=5)
    with pytest.raises(SpecError, match="unknown parameter 'z'"):
        mixed.parameter("z")


def test_linear_constraint_is_checked_on_points_and_against_the_bounds() -> None:
    a = ContinuousParameter(name="a", low=0, high=1)
    b = ContinuousParameter(name="b", low=0, high=2)
    total = LinearConstraint(coefficients={"a": 1.0, "b": 1.0}, upper=1.5)
    space = SearchSpace(parameters=(a, b), constraints=(total,))
    assert total.value({"a": 0.25, "b": 1.0}) == 1.25
    assert space.feasible({"a": 0.5, "b": 1.0})
    assert not space.feasible({"a": 0.5, "b": 1.25})
    with pytest.raises(ValueError, match=r"smallest value is -2 > upper -2\.5"):
        SearchSpace(
            parameters=(a, b),
            constraints=(LinearConstraint(coefficients={"a": 1.0, "b": -1.0}, upper=-2.5),),
        )
    with pytest.raises(ValueError, match=r"names \['c'\], which are not numeric"):
        SearchSpace(
            parameters=(a, b), constraints=(LinearConstraint(coefficients={"c": 1.0}, upper=1),)
        )
