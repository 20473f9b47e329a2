from __future__ import annotations

import numpy as np
import pytest

from cfl.encoding import Encoding
from cfl.space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    LinearConstraint,
    SearchSpace,
)

SPACE = SearchSpace(
    parameters=(
        ContinuousParameter(name="t", low=20.0, high=100.0),
        IntegerParameter(name="k", low=1, high=5),
        CategoricalParameter(name="solvent", levels=("A", "B", "C")),
        ContinuousParameter(name="flow", low=0.01, high=10.0, log_scale=True),
    ),
    constraints=(LinearConstraint(coefficients={"t": 1.0, "k": 10.0}, upper=100.0),),
)


def test_columns_by_hand() -> None:
    enc = Encoding(SPACE)
    assert enc.dim == 1 + 1 + 3 + 1
    row = enc.encode([{"t": 60.0, "k": 2, "solvent": "C", "flow": 0.1}])[0]
    # t: (60-20)/80; k: (2-1)/4; one-hot C; flow: (log 0.1 - log 0.01)/(log 10 - log 0.01) = 1/3
    np.testing.assert_allclose(row, [0.5, 0.25, 0, 0, 1, 1 / 3])
    assert enc.continuous.tolist() == [0, 5]
    assert enc.discrete


def test_decode_rounds_clips_and_returns_plain_types() -> None:
    enc = Encoding(SPACE)
    point = enc.decode(np.array([1.2, 0.6, 0.2, 0.7, 0.1, 0.0]))
    assert point == {"t": 100.0, "k": 3, "solvent": "B", "flow": pytest.approx(0.01)}
    assert type(point["t"]) is float and type(point["k"]) is int and type(point["solvent"]) is str
    original = {"t": 33.0, "k": 5, "solvent": "A", "flow": 2.5}
    assert enc.decode(enc.encode([original])[0]) == pytest.approx(original)


def test_constraint_matrix_and_raw_values() -> None:
    enc = Encoding(SPACE)
    a, b = enc.constraint_matrix()
    assert a.tolist() == [[1.0, 10.0, 0, 0, 0, 0]] and b.tolist() == [100.0]
    x, dx = enc.raw(enc.encode([{"t": 60.0, "k": 2, "solvent": "C", "flow": 0.1}]))
    assert x[0, 0] == pytest.approx(60.0) and x[0, 1] == pytest.approx(2.0)
    assert x[0, 5] == pytest.approx(0.1) and dx[0, 0] == pytest.approx(80.0)
    assert dx[0, 5] == pytest.approx(0.1 * np.log(1000.0))


def test_neighbours_change_one_discrete_value() -> None:
    enc = Encoding(SPACE)
    row = enc.encode([{"t": 60.0, "k": 1, "solvent": "A", "flow": 1.0}])[0]
    points = [enc.decode(r) for r in enc.neighbours(row)]
    assert [(p["k"], p["solvent"]) for p in points] == [(2, "A"), (1, "B"), (1, "C")]


def test_snap_equals_decode_then_encode() -> None:
    enc = Encoding(SPACE)
    rows = np.random.default_rng(0).uniform(-0.2, 1.2, size=(50, enc.dim))
    expected = enc.encode([enc.decode(row) for row in rows])
    np.testing.assert_allclose(enc.snap(rows), expected, atol=1e-12)
