"""The truth a hypothesis about the SnAr demo is scored against: partial dependence of the model.

The simulator's response is known: :func:`snar_yield` is the noiseless yield of
:mod:`instruments.sim.snar` (the kinetic model CFL's simulated reactor runs; the HPLC adds the
noise). A hypothesis names one or two variables, while the response depends on four, so its truth
is read off the *partial dependence* (PD) of the response [Friedman2001]_: with a background
sample ``x^(1..N)`` of all variables (``N = 4000`` draws, fixed seed),

    PD(x_S = v) = (1/N) * sum_i f(v, x^(i)_{-S}),

the mean response with the variables in ``S`` set to ``v`` and the others where the background
puts them. Per prediction (``maximize``; signs flip for an objective to minimise):

* *Trend* (``variable`` ``x``, range ``[lo, hi]``, sign ``s``):
  true iff ``sign(PD(x = hi) - PD(x = lo)) == s``.
* *Interaction* (``variable`` ``a``, ``moderator`` ``b``, sign ``s``): with ``a`` and ``b`` at
  the bounds of the space (``-``, ``+``), the corner contrast
  ``C = [PD(a+, b+) - PD(a-, b+)] - [PD(a+, b-) - PD(a-, b-)]``; true iff ``sign(C) == s``. ``C``
  is symmetric in ``a`` and ``b`` and has the sign of the product term of a bilinear fit, which is
  what the hypothesis claims and what :mod:`cfl.evidence` estimates.
* *Optimum* (``variable`` ``x``, range ``[lo, hi]``): ``x* = argmax_v PD(x = v)`` over 101
  equally spaced ``v`` spanning the bounds of ``x``; true iff ``lo <= x* <= hi``.
* *Best level*: the demo space has no categorical variable; no truth (``None``).

A difference of exactly zero has no sign and makes a trend or interaction false.

*How far* a prediction holds, its **margin** (:meth:`Truth.margin`, in the objective's units,
positive iff it holds): ``s (PD(hi) - PD(lo))`` for a trend, ``s C`` for an interaction, and for
an optimum the best ``PD`` on the grid points inside ``[lo, hi]`` minus the best outside (``0``
when the range covers the whole grid: a claim that excludes nothing). A ranking of hypotheses is
good when the strongest true claims come first and the false ones, the more wrong the lower, last;
the margin is that order, on one scale for every kind of claim.

Two backgrounds, two truths:

* **global**: every variable uniform over the whole space (the bounds of the spec). The effect of
  a variable averaged over the box: a property of the chemistry alone, whatever any campaign did.
* **local**: each variable uniform within ``±share`` (10 %) of its range around a campaign's best
  measured conditions, cut at the bounds. The effect where the optimiser spent its experiments, so
  where :mod:`cfl.evidence` (least squares on those experiments) actually measures it; the
  variables a prediction names still span their full range.

The SnAr yield has strong interactions (temperature, residence time and concentration trade off
against each other), so the two can disagree: yield may fall with temperature near a cold,
long-residence optimum and rise with it averaged over the box.

.. [Friedman2001] J. H. Friedman, "Greedy function approximation: a gradient boosting machine",
   Annals of Statistics 29(5), 1189-1232 (2001), section 8.2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cfl.models import BestLevel, Interaction, Optimum, Prediction, Trend
from instruments.sim.snar import _rate_constants

__all__ = [
    "DRAWS",
    "OPTIMUM_GRID",
    "SNAR_BOX",
    "Box",
    "PartialDependence",
    "Response",
    "Truth",
    "interaction_holds",
    "interaction_margin",
    "optimum_holds",
    "optimum_margin",
    "snar_truth",
    "snar_yield",
    "trend_holds",
    "trend_margin",
]

Response = Callable[[NDArray[np.float64]], NDArray[np.float64]]
"""A response surface: rows of conditions (columns in the box's order) to one value per row."""

DRAWS = 4000
"""Background draws per partial dependence."""
OPTIMUM_GRID = 101
"""Points along a variable's bounds at which an optimum's argmax is sought."""
_STEPS = 64
_CHUNK = 20_000


@dataclass(frozen=True)
class Box:
    """A rectangular space: variable names and their bounds, in column order."""

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def uniform(self, n: int, seed: int = 0) -> NDArray[np.float64]:
        """``n`` rows drawn uniformly over the box."""
        return _uniform(np.asarray(self.low), np.asarray(self.high), n, seed)

    def around(
        self, center: Mapping[str, float], share: float, n: int, seed: int = 0
    ) -> NDArray[np.float64]:
        """``n`` rows uniform within ``±share`` of each range around ``center``, cut at bounds."""
        low, high = np.asarray(self.low), np.asarray(self.high)
        middle = np.array([float(center[name]) for name in self.names])
        half = share * (high - low)
        lo, hi = np.maximum(low, middle - half), np.minimum(high, middle + half)
        return _uniform(lo, hi, n, seed)


def _uniform(
    low: NDArray[np.float64], high: NDArray[np.float64], n: int, seed: int
) -> NDArray[np.float64]:
    draws: NDArray[np.float64] = np.random.default_rng(seed).random((n, len(low)))
    return low + draws * (high - low)


SNAR_BOX = Box(
    names=("residence_time", "equivalents", "concentration", "temperature"),
    low=(0.5, 1.0, 0.1, 30.0),
    high=(2.0, 5.0, 0.5, 120.0),
)
"""The demo's space (``examples/snar/campaign.yaml``), in :class:`SnarConditions` order."""


def snar_yield(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Noiseless yield (%) of the SnAr model at each row ``(tau, equiv, conc, T)``, vectorised.

    The same kinetics as :func:`instruments.sim.snar.simulate_snar`, integrated for many
    conditions at once. With second-order steps, concentrations scaled by the inlet concentration
    ``c0`` and time by ``c0`` give the same equations, so each row is integrated over
    ``s = c0 * tau`` from ``u = (1, equiv, 0, 0)``; the yield is ``100 * u_3``. Classical
    Runge-Kutta, 64 steps per row, spaced quadratically (short where the rates are high, at the
    start): within 1e-4 % of the adaptive LSODA solution across the box.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return np.concatenate([_yield_chunk(x[i : i + _CHUNK]) for i in range(0, len(x), _CHUNK)])


def _yield_chunk(x: NDArray[np.float64]) -> NDArray[np.float64]:
    tau, equivalents, concentration, temperature = x.T
    temperatures, where = np.unique(temperature, return_inverse=True)
    k = np.stack([_rate_constants(float(t)) for t in temperatures])[where]
    k_a, k_b, k_c, k_d = k.T
    span = concentration * tau
    u = np.stack([np.ones_like(tau), equivalents.copy(), np.zeros_like(tau), np.zeros_like(tau)])

    def rates(u: NDArray[np.float64]) -> NDArray[np.float64]:
        c1, c2, c3, c4 = np.maximum(u, 0.0)
        r_ab = (k_a + k_b) * c1 * c2
        r_c, r_d = k_c * c3 * c2, k_d * c4 * c2
        return np.stack([-r_ab, -(r_ab + r_c + r_d), k_a * c1 * c2 - r_c, k_b * c1 * c2 - r_d])

    marks = np.linspace(0.0, 1.0, _STEPS + 1) ** 2
    for i in range(_STEPS):
        h = span * (marks[i + 1] - marks[i])
        r1 = rates(u)
        r2 = rates(u + h / 2 * r1)
        r3 = rates(u + h / 2 * r2)
        r4 = rates(u + h * r3)
        u = u + h / 6 * (r1 + 2 * r2 + 2 * r3 + r4)
    result: NDArray[np.float64] = 100.0 * np.maximum(u[2], 0.0)
    return result


class PartialDependence:
    """Partial dependence of ``response`` over a background sample (see the module docstring).

    Values are cached, so asking for the same ``PD(x_S = v)`` twice costs nothing.
    """

    def __init__(self, response: Response, box: Box, background: NDArray[np.float64]) -> None:
        self.response = response
        self.box = box
        self.background = background
        self._cache: dict[tuple[tuple[str, float], ...], float] = {}

    def values(self, settings: list[Mapping[str, float]]) -> NDArray[np.float64]:
        """``PD`` at each setting (variables fixed to values), in one batch of evaluations."""
        keys = [tuple(sorted((k, float(v)) for k, v in s.items())) for s in settings]
        missing = list(dict.fromkeys(key for key in keys if key not in self._cache))
        if missing:
            n = len(self.background)
            rows = np.tile(self.background, (len(missing), 1))
            for j, key in enumerate(missing):
                for name, value in key:
                    rows[j * n : (j + 1) * n, self.box.index(name)] = value
            means = self.response(rows).reshape(len(missing), n).mean(axis=1)
            self._cache.update(zip(missing, (float(m) for m in means), strict=True))
        return np.array([self._cache[key] for key in keys])

    def value(self, **setting: float) -> float:
        return float(self.values([setting])[0])

    def curve(self, variable: str, grid: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.values([{variable: float(v)} for v in grid])


def trend_holds(pd: PartialDependence, variable: str, low: float, high: float, sign: int) -> bool:
    """``sign(PD(high) - PD(low)) == sign``: how the objective moves, however it is optimised."""
    return trend_margin(pd, variable, low, high, sign) > 0


def interaction_holds(pd: PartialDependence, variable: str, moderator: str, sign: int) -> bool:
    """Sign of the corner contrast of ``variable`` and ``moderator`` at their bounds."""
    return interaction_margin(pd, variable, moderator, sign) > 0


def optimum_holds(
    pd: PartialDependence,
    variable: str,
    low: float,
    high: float,
    *,
    maximize: bool = True,
    grid: int = OPTIMUM_GRID,
) -> bool:
    """Whether the best ``PD`` on a grid over ``variable``'s bounds lies in ``[low, high]``."""
    points, curve, slack = _signed_curve(pd, variable, maximize, grid)
    best = float(points[int(np.argmax(curve))])
    return low - slack <= best <= high + slack


def _signed_curve(
    pd: PartialDependence, variable: str, maximize: bool, grid: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """``PD`` on ``grid`` points over the bounds of ``variable``, higher is better, and the
    tolerance within which a range's ends match grid points (hypothesis ranges are grid points)."""
    j = pd.box.index(variable)
    points = np.linspace(pd.box.low[j], pd.box.high[j], grid)
    curve = pd.curve(variable, points)
    return points, curve if maximize else -curve, 1e-9 * (pd.box.high[j] - pd.box.low[j])


@dataclass(frozen=True)
class Truth:
    """Whether predictions about one objective hold, on one background."""

    objective: str
    maximize: bool
    pd: PartialDependence

    def optimum_at(self, variable: str, grid: int = OPTIMUM_GRID) -> float:
        """Where the partial dependence of ``variable`` is best (for diagnosis)."""
        j = self.pd.box.index(variable)
        points = np.linspace(self.pd.box.low[j], self.pd.box.high[j], grid)
        curve = self.pd.curve(variable, points)
        return float(points[int(np.argmax(curve if self.maximize else -curve))])

    def holds(self, prediction: Prediction) -> bool | None:
        """The truth of ``prediction``; ``None`` if it is about something this truth cannot read.

        A trend or interaction holds iff its margin is positive; an optimum iff the argmax lies
        in its range (a range covering the whole grid holds with margin 0).
        """
        if isinstance(prediction, Optimum) and prediction.objective == self.objective:
            return optimum_holds(
                self.pd,
                prediction.variable,
                prediction.low,
                prediction.high,
                maximize=self.maximize,
            )
        margin = self.margin(prediction)
        return None if margin is None else margin > 0

    def margin(self, prediction: Prediction) -> float | None:
        """How far ``prediction`` holds (module docstring); ``None`` as for :meth:`holds`."""
        if prediction.objective != self.objective or isinstance(prediction, BestLevel):
            return None
        if isinstance(prediction, Trend):
            return trend_margin(
                self.pd, prediction.variable, prediction.low, prediction.high, prediction.sign
            )
        if isinstance(prediction, Interaction):
            return interaction_margin(
                self.pd, prediction.variable, prediction.moderator, prediction.sign
            )
        assert isinstance(prediction, Optimum)
        return optimum_margin(
            self.pd, prediction.variable, prediction.low, prediction.high, maximize=self.maximize
        )


def trend_margin(pd: PartialDependence, variable: str, low: float, high: float, sign: int) -> float:
    """``sign (PD(high) - PD(low))``: positive iff :func:`trend_holds`."""
    low_value, high_value = pd.values([{variable: low}, {variable: high}])
    return sign * float(high_value - low_value)


def interaction_margin(pd: PartialDependence, variable: str, moderator: str, sign: int) -> float:
    """``sign C``, the corner contrast signed by the claim: positive iff it holds."""
    a, b = pd.box.index(variable), pd.box.index(moderator)
    a_lo, a_hi, b_lo, b_hi = pd.box.low[a], pd.box.high[a], pd.box.low[b], pd.box.high[b]
    pp, mp, pm, mm = pd.values(
        [
            {variable: a_hi, moderator: b_hi},
            {variable: a_lo, moderator: b_hi},
            {variable: a_hi, moderator: b_lo},
            {variable: a_lo, moderator: b_lo},
        ]
    )
    return sign * float((pp - mp) - (pm - mm))


def optimum_margin(
    pd: PartialDependence,
    variable: str,
    low: float,
    high: float,
    *,
    maximize: bool = True,
    grid: int = OPTIMUM_GRID,
) -> float:
    """Best ``PD`` inside ``[low, high]`` minus best outside (signed for the direction).

    Positive iff :func:`optimum_holds`; ``0`` when no grid point lies outside the range (or none
    inside: then the claim names no grid point and the margin is minus the curve's spread).
    """
    points, curve, slack = _signed_curve(pd, variable, maximize, grid)
    inside = (points >= low - slack) & (points <= high + slack)
    if inside.all():
        return 0.0
    if not inside.any():
        return -float(np.max(curve) - np.min(curve))
    return float(np.max(curve[inside]) - np.max(curve[~inside]))


def snar_truth(*, center: Mapping[str, float] | None = None, share: float = 0.1) -> Truth:
    """The yield's truth on the global background, or locally around ``center``."""
    background = (
        SNAR_BOX.uniform(DRAWS) if center is None else SNAR_BOX.around(center, share, DRAWS)
    )
    return Truth("yield", True, PartialDependence(snar_yield, SNAR_BOX, background))
