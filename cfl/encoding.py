"""Points of a mixed search space as rows of the unit cube, and back.

A Gaussian process needs real vectors on a common scale, so every parameter becomes one or more
columns in ``[0, 1]``:

* continuous: ``u = (x - low) / (high - low)``, or the same in ``log x`` for log-scale
  parameters (a flow rate from 0.01 to 10 is as interesting per decade);
* integer: relaxed to the continuous ``u = (k - low) / (high - low)`` and rounded on decode, so
  neighbouring integers are close to each other for the kernel;
* categorical: one-hot, one column per level; decoding takes the largest column.

The continuous relaxation keeps the kernel's length scales meaningful for integers; one-hot keeps
levels unordered and equidistant, as categorical levels should be (Garrido-Merchán and
Hernández-Lobato 2020, "Dealing with categorical and integer-valued variables in Bayesian
optimization with Gaussian processes", Neurocomputing 380).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cfl.space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Point,
    SearchSpace,
)

__all__ = ["Encoding"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class _Column:
    """Where one parameter lives in an encoded row."""

    start: int
    width: int


class Encoding:
    """The unit-cube view of one search space.

    Args:
        space: The space to encode; its parameter order fixes the column order.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        columns: list[_Column] = []
        start = 0
        for parameter in space.parameters:
            width = len(parameter.levels) if isinstance(parameter, CategoricalParameter) else 1
            columns.append(_Column(start, width))
            start += width
        self._columns = columns
        self.dim = start
        """Number of encoded columns."""
        self.continuous = np.array(
            [
                c.start
                for p, c in zip(space.parameters, columns, strict=True)
                if isinstance(p, ContinuousParameter)
            ],
            dtype=np.intp,
        )
        """Columns a gradient-based optimiser may move freely (continuous parameters)."""
        self.discrete = any(not isinstance(p, ContinuousParameter) for p in space.parameters)
        """Whether some parameter is integer or categorical."""

    def encode(self, points: Sequence[Point]) -> Array:
        """Rows in ``[0, 1]^dim`` for ``points`` (shape ``(len(points), dim)``)."""
        rows = np.zeros((len(points), self.dim))
        for i, point in enumerate(points):
            for parameter, column in zip(self.space.parameters, self._columns, strict=True):
                value = point[parameter.name]
                if isinstance(parameter, CategoricalParameter):
                    rows[i, column.start + parameter.levels.index(str(value))] = 1.0
                elif isinstance(parameter, ContinuousParameter) and parameter.log_scale:
                    low, high = math.log(parameter.low), math.log(parameter.high)
                    rows[i, column.start] = (math.log(float(value)) - low) / (high - low)
                else:
                    rows[i, column.start] = (float(value) - parameter.low) / (
                        parameter.high - parameter.low
                    )
        return rows

    def decode(self, row: Array) -> Point:
        """The point a row stands for, with plain Python values inside the bounds.

        Continuous values are clipped to the bounds, integers rounded, and a categorical takes
        the level of its largest column (ties go to the first level).
        """
        point: Point = {}
        for parameter, column in zip(self.space.parameters, self._columns, strict=True):
            if isinstance(parameter, CategoricalParameter):
                block = row[column.start : column.start + column.width]
                point[parameter.name] = parameter.levels[int(np.argmax(block))]
                continue
            u = min(max(float(row[column.start]), 0.0), 1.0)
            if isinstance(parameter, IntegerParameter):
                value = parameter.low + round(u * (parameter.high - parameter.low))
                point[parameter.name] = int(min(max(value, parameter.low), parameter.high))
            elif parameter.log_scale:
                low, high = math.log(parameter.low), math.log(parameter.high)
                x = math.exp(low + u * (high - low))
                point[parameter.name] = min(max(x, parameter.low), parameter.high)
            else:
                x = parameter.low + u * (parameter.high - parameter.low)
                point[parameter.name] = min(max(x, parameter.low), parameter.high)
        return point

    def snap(self, rows: Array) -> Array:
        """Rows moved onto values the space can take: integers rounded, categoricals one-hot.

        The acquisition is evaluated at snapped rows, so it scores the experiment that would
        really run rather than a relaxation between two integers or levels. Vectorised, but the
        same as encoding each decoded row (continuous values clipped to the cube).
        """
        out = np.clip(rows, 0.0, 1.0)
        for parameter, column in zip(self.space.parameters, self._columns, strict=True):
            j = column.start
            if isinstance(parameter, CategoricalParameter):
                block = rows[:, j : j + column.width]
                out[:, j : j + column.width] = 0.0
                out[np.arange(len(rows)), j + np.argmax(block, axis=1)] = 1.0
            elif isinstance(parameter, IntegerParameter):
                steps = parameter.high - parameter.low
                out[:, j] = np.round(out[:, j] * steps) / steps
        return out

    def raw(self, rows: Array) -> tuple[Array, Array]:
        """Constraint-ready values of the numeric parameters and their derivative.

        Returns:
            ``(x, dx_du)``, each of shape ``(n, dim)``: ``x[:, j]`` is the parameter value
            encoded in column ``j`` (0 for categorical columns) and ``dx_du`` its derivative with
            respect to ``u_j``, for the linear-constraint Jacobian during polishing.
        """
        x = np.zeros_like(rows)
        dx = np.zeros_like(rows)
        for parameter, column in zip(self.space.parameters, self._columns, strict=True):
            if isinstance(parameter, CategoricalParameter):
                continue
            j = column.start
            if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
                low, high = math.log(parameter.low), math.log(parameter.high)
                x[:, j] = np.exp(low + rows[:, j] * (high - low))
                dx[:, j] = x[:, j] * (high - low)
            else:
                x[:, j] = parameter.low + rows[:, j] * (parameter.high - parameter.low)
                dx[:, j] = parameter.high - parameter.low
        return x, dx

    def constraint_matrix(self) -> tuple[Array, Array]:
        """The space's linear constraints as ``A @ x <= b`` over :meth:`raw` values.

        Returns:
            ``(A, b)`` with ``A`` of shape ``(n_constraints, dim)``.
        """
        constraints = self.space.constraints
        a = np.zeros((len(constraints), self.dim))
        b = np.array([c.upper for c in constraints], dtype=float)
        starts = {
            p.name: c.start for p, c in zip(self.space.parameters, self._columns, strict=True)
        }
        for i, constraint in enumerate(constraints):
            for name, coefficient in constraint.coefficients.items():
                a[i, starts[name]] = coefficient
        return a, b

    def neighbours(self, row: Array) -> Array:
        """Rows one discrete step away: each other categorical level, each integer ± 1.

        Used by the acquisition optimiser's local search over the discrete coordinates, which
        gradients cannot move.
        """
        out: list[Array] = []
        for parameter, column in zip(self.space.parameters, self._columns, strict=True):
            if isinstance(parameter, CategoricalParameter):
                current = int(np.argmax(row[column.start : column.start + column.width]))
                for level in range(column.width):
                    if level != current:
                        other = row.copy()
                        other[column.start : column.start + column.width] = 0.0
                        other[column.start + level] = 1.0
                        out.append(other)
            elif isinstance(parameter, IntegerParameter):
                step = 1.0 / (parameter.high - parameter.low)
                for delta in (-step, step):
                    value = row[column.start] + delta
                    if -1e-9 <= value <= 1 + 1e-9:
                        other = row.copy()
                        other[column.start] = min(max(value, 0.0), 1.0)
                        out.append(other)
        return np.array(out).reshape(len(out), self.dim)
