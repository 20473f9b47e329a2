"""Evidence: does the data support a hypothesis's prediction?

Only experiments designed after the hypothesis was registered count, so a hypothesis drawn from
data is never confirmed by the same data (pre-registration).

*Trend* (``objective`` moves with sign ``s`` in ``variable`` over ``[low, high]``): ordinary least
squares of the objective on all parameters (numeric ones standardised, categorical ones one-hot),
using the experiments inside the range. Under the flat prior, the posterior of a coefficient
``b`` is Student-t with ``n - p`` degrees of freedom around the estimate ``b_hat`` with scale
``se`` [Gelman2013]_ (§14.2), so

    credence = P(s * b > 0 | data) = T_{n-p}( s * b_hat / se ).

Adjusting for the other parameters keeps a confounded design (the optimiser moving two variables
together) from being read as an effect of one.

*Best level* (``level`` of a categorical gives the best objective): Welch's t statistic of the
level's mean against the other levels' pooled mean, signed by the objective's direction, with
Welch-Satterthwaite degrees of freedom; credence is the t CDF at that statistic.

*Interaction* (the effect of ``variable`` changes with ``moderator`` with sign ``s``): the same
regression plus the product of the two standardised columns and the square of each, a
second-order model in the pair [BoxDraper2007]_ (ch. 9); credence is
``T_{n-p}(s * b_int / se_int)`` as for a trend. An optimiser's experiments cluster around its
optimum, where the response is curved; off-centre, ``a * b`` correlates with ``a^2`` and ``b^2``,
so without the squares the product term absorbs the curvature and can take the wrong sign (on
SnAr-like designs clustered near an optimum, 200 draws: wrong verdicts 9 -> 4 of 1,200, supported
true ones 524 -> 537).

*Optimum* (the best ``variable`` lies in ``[low, high]``): the regression with ``variable`` also
squared. Each draw of the coefficients from their posterior (multivariate Student-t, ``n - p``
degrees of freedom, scale ``sigma^2 (X'X)^-1``) has a best ``variable`` over the parameter's
bounds: the vertex ``-b_1 / (2 b_2)`` when the parabola opens the right way and the vertex is
inside, else the better end. Credence is the share of 4,000 draws (fixed seed, so an assessment
is reproducible) whose best lies in the range.

Each assessment also states the Bayes factor of the prediction against its negation,
``BF = [c / (1 - c)] / [pi / (1 - pi)]`` for credence ``c`` and prior ``pi`` (0.5 for a sign or a
level; for an optimum, the share of the parameter's range the prediction claims, the prior of an
optimum uniform over it), as ``log10_bf`` in its statistics: how much the data moved the odds
[KassRaftery1995]_, whatever the prior of the ranking put on it.

A hypothesis is *supported* at credence >= 0.95, *refuted* at <= 0.05, and *open* between, or
when there is too little data to fit (``n < p + 3``).

.. [Gelman2013] A. Gelman et al., Bayesian Data Analysis, 3rd ed., CRC Press (2013).
.. [BoxDraper2007] G. E. P. Box, N. R. Draper, Response Surfaces, Mixtures, and Ridge Analyses,
   2nd ed., Wiley (2007).
.. [KassRaftery1995] R. E. Kass, A. E. Raftery, "Bayes factors", J. Am. Stat. Assoc. 90 (1995).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from cfl.campaign import Campaign
from cfl.models import (
    BestLevel,
    ExperimentStatus,
    Hypothesis,
    HypothesisStatus,
    Interaction,
    Optimum,
    Prediction,
    Trend,
)
from cfl.space import CategoricalParameter, Point
from cfl.spec import CampaignSpec

__all__ = ["SUPPORT", "Assessment", "assess", "needed_evidence", "weigh"]

SUPPORT = 0.95
"""Credence at which a hypothesis is supported (and 1 - SUPPORT at which it is refuted)."""


@dataclass(frozen=True)
class Assessment:
    """Where a hypothesis stands after the data so far."""

    status: HypothesisStatus
    credence: float
    evidence_n: int
    statistics: dict[str, float]


def _status(credence: float) -> HypothesisStatus:
    if credence >= SUPPORT:
        return HypothesisStatus.SUPPORTED
    if credence <= 1 - SUPPORT:
        return HypothesisStatus.REFUTED
    return HypothesisStatus.OPEN


def _evidence(campaign: Campaign, hypothesis: Hypothesis) -> list[tuple[Point, float]]:
    objective = hypothesis.prediction.objective
    rows = []
    for experiment in campaign.experiments.values():
        if experiment.index <= hypothesis.registered_after:
            continue
        if experiment.status != ExperimentStatus.DONE:
            continue
        rows.append((experiment.params, campaign.observations[experiment.id].values[objective]))
    return rows


_DRAWS = 4000


def _n_columns(spec: CampaignSpec) -> int:
    return 1 + sum(
        len(q.levels) - 1 if isinstance(q, CategoricalParameter) else 1
        for q in spec.space.parameters
    )


def needed_evidence(spec: CampaignSpec, prediction: Prediction) -> int:
    """Experiments an assessment needs before its credence can move off 0.5.

    A regression needs its ``p`` coefficients plus 3 degrees of freedom (``n >= p + 3``): the
    parameters' columns, and for an interaction the product and both squares, for an optimum
    the square. A trend counts only the experiments inside its range; a best level needs 2
    experiments at that level and 2 elsewhere.
    """
    if isinstance(prediction, Trend):
        return _n_columns(spec) + 3
    if isinstance(prediction, Interaction):
        return _n_columns(spec) + 3 + 3
    if isinstance(prediction, Optimum):
        return _n_columns(spec) + 1 + 3
    return 4


@dataclass(frozen=True)
class _Fit:
    """Least squares with its posterior: coefficients, their scale matrix, degrees of freedom."""

    names: list[str]
    coef: np.ndarray
    covariance: np.ndarray
    dof: int

    def t_credence(self, column: str, sign: int) -> tuple[float, dict[str, float]]:
        """``P(sign * b > 0)`` under the Student-t posterior of one coefficient."""
        j = self.names.index(column)
        se = float(np.sqrt(max(self.covariance[j, j], 0.0)))
        estimate = float(self.coef[j])
        if se == 0.0 or not np.isfinite(se):
            return 0.5, {"estimate_per_sd": estimate}
        t_value = sign * estimate / se
        return float(stats.t.cdf(t_value, self.dof)), {
            "estimate_per_sd": estimate,
            "se": se,
            "t": t_value,
            "dof": float(self.dof),
        }


def _fit(x: np.ndarray, names: list[str], y: np.ndarray) -> _Fit | None:
    coef, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    dof = len(y) - int(rank)
    if dof < 1:
        return None
    residual = y - x @ coef
    sigma2 = float(residual @ residual) / dof
    return _Fit(names, coef, sigma2 * np.linalg.pinv(x.T @ x), dof)


def _log10_bf(credence: float, prior: float) -> float:
    c = min(max(credence, 1e-12), 1 - 1e-12)
    return float(np.log10(c / (1 - c)) - np.log10(prior / (1 - prior)))


def _design_matrix(spec: CampaignSpec, points: Sequence[Point]) -> tuple[np.ndarray, list[str]]:
    columns: list[np.ndarray] = [np.ones(len(points))]
    names = ["intercept"]
    for parameter in spec.space.parameters:
        if isinstance(parameter, CategoricalParameter):
            for level in parameter.levels[1:]:
                columns.append(
                    np.array([1.0 if p[parameter.name] == level else 0.0 for p in points])
                )
                names.append(f"{parameter.name}={level}")
        else:
            x = np.array([float(p[parameter.name]) for p in points])
            spread = x.std()
            columns.append((x - x.mean()) / spread if spread > 0 else np.zeros_like(x))
            names.append(parameter.name)
    return np.column_stack(columns), names


def _assess_trend(spec: CampaignSpec, trend: Trend, rows: list[tuple[Point, float]]) -> Assessment:
    inside = [(p, y) for p, y in rows if trend.low <= float(p[trend.variable]) <= trend.high]
    n = len(inside)
    p = needed_evidence(spec, trend) - 3
    if n < p + 3:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n), "p": float(p)})
    x, names = _design_matrix(spec, [point for point, _ in inside])
    fit = _fit(x, names, np.array([v for _, v in inside]))
    if fit is None:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n)})
    credence, statistics = fit.t_credence(trend.variable, trend.sign)
    return _assessment(credence, n, statistics, prior=0.5)


def _assessment(
    credence: float, n: int, statistics: dict[str, float], *, prior: float
) -> Assessment:
    statistics = {"n": float(n), **statistics, "log10_bf": _log10_bf(credence, prior)}
    return Assessment(_status(credence), credence, n, statistics)


def _standardised(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _assess_interaction(
    spec: CampaignSpec, interaction: Interaction, rows: list[tuple[Point, float]]
) -> Assessment:
    n = len(rows)
    p = needed_evidence(spec, interaction) - 3
    if n < p + 3:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n), "p": float(p)})
    points = [point for point, _ in rows]
    x, names = _design_matrix(spec, points)
    a = x[:, names.index(interaction.variable)]
    b = x[:, names.index(interaction.moderator)]
    x = np.column_stack([x, a * b, a * a, b * b])
    names = [*names, "interaction", "variable_squared", "moderator_squared"]
    fit = _fit(x, names, np.array([v for _, v in rows]))
    if fit is None:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n)})
    credence, statistics = fit.t_credence("interaction", interaction.sign)
    return _assessment(credence, n, statistics, prior=0.5)


def _assess_optimum(
    spec: CampaignSpec, optimum: Optimum, rows: list[tuple[Point, float]]
) -> Assessment:
    n = len(rows)
    p = needed_evidence(spec, optimum) - 3
    if n < p + 3:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n), "p": float(p)})
    points = [point for point, _ in rows]
    x, names = _design_matrix(spec, points)
    raw = np.array([float(q[optimum.variable]) for q in points])
    mean, spread = float(raw.mean()), float(raw.std())
    if spread == 0:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n)})
    z = (raw - mean) / spread
    x = np.column_stack([x, z**2])
    names = [*names, "squared"]
    fit = _fit(x, names, np.array([v for _, v in rows]))
    if fit is None:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n)})
    parameter = spec.space.parameter(optimum.variable)
    assert not isinstance(parameter, CategoricalParameter)
    lo, hi = (parameter.low - mean) / spread, (parameter.high - mean) / spread
    j1, j2 = names.index(optimum.variable), names.index("squared")
    scale = fit.covariance[np.ix_([j1, j2], [j1, j2])]
    draws = stats.multivariate_t(
        loc=fit.coef[[j1, j2]], shape=scale + 1e-12 * np.eye(2), df=fit.dof
    ).rvs(size=_DRAWS, random_state=np.random.default_rng(0))
    direction = next(o.direction for o in spec.objectives if o.name == optimum.objective)
    sign = 1.0 if direction == "maximize" else -1.0
    b1, b2 = sign * draws[:, 0], sign * draws[:, 1]  # maximise sign * (b1 z + b2 z^2)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(b2 < 0, -b1 / (2 * b2), np.nan)
    inside = np.isfinite(vertex) & (vertex >= lo) & (vertex <= hi)
    value_lo, value_hi = b1 * lo + b2 * lo**2, b1 * hi + b2 * hi**2
    best_z = np.where(inside, vertex, np.where(value_hi >= value_lo, hi, lo))
    best = mean + spread * best_z
    credence = float(np.mean((best >= optimum.low) & (best <= optimum.high)))
    prior = (optimum.high - optimum.low) / (parameter.high - parameter.low)
    prior = min(max(prior, 1e-6), 1 - 1e-6)
    return _assessment(
        credence,
        n,
        {"best_median": float(np.median(best)), "dof": float(fit.dof), "prior": prior},
        prior=prior,
    )


def _assess_best_level(
    spec: CampaignSpec, best: BestLevel, rows: list[tuple[Point, float]]
) -> Assessment:
    direction = next(o.direction for o in spec.objectives if o.name == best.objective)
    sign = 1.0 if direction == "maximize" else -1.0
    level = np.array([y for p, y in rows if p[best.variable] == best.level])
    others = np.array([y for p, y in rows if p[best.variable] != best.level])
    n = len(rows)
    if len(level) < 2 or len(others) < 2:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n)})
    v1, v2 = level.var(ddof=1) / len(level), others.var(ddof=1) / len(others)
    if v1 + v2 == 0:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n)})
    t_value = sign * (level.mean() - others.mean()) / np.sqrt(v1 + v2)
    dof = (v1 + v2) ** 2 / (v1**2 / (len(level) - 1) + v2**2 / (len(others) - 1))
    credence = float(stats.t.cdf(t_value, dof))
    return _assessment(
        credence,
        n,
        {
            "t": float(t_value),
            "dof": float(dof),
            "level_mean": float(level.mean()),
            "others_mean": float(others.mean()),
        },
        prior=0.5,
    )


def assess(campaign: Campaign, hypothesis: Hypothesis) -> Assessment:
    """Weigh the evidence for ``hypothesis`` in ``campaign`` (see the module docstring)."""
    return weigh(campaign.spec, hypothesis.prediction, _evidence(campaign, hypothesis))


def weigh(
    spec: CampaignSpec, prediction: Prediction, rows: list[tuple[Point, float]]
) -> Assessment:
    """How well ``rows`` (conditions, objective value) bear out ``prediction``.

    :func:`assess` gives it the experiments designed after registration only; a co-scientist
    judging which hypothesis is more plausible before testing may give it all the data.
    """
    if isinstance(prediction, Trend):
        return _assess_trend(spec, prediction, rows)
    if isinstance(prediction, Interaction):
        return _assess_interaction(spec, prediction, rows)
    if isinstance(prediction, Optimum):
        return _assess_optimum(spec, prediction, rows)
    return _assess_best_level(spec, prediction, rows)
