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

A hypothesis is *supported* at credence >= 0.95, *refuted* at <= 0.05, and *open* between, or
when there is too little data to fit (``n < p + 3``).

.. [Gelman2013] A. Gelman et al., Bayesian Data Analysis, 3rd ed., CRC Press (2013).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from cfl.campaign import Campaign
from cfl.models import BestLevel, ExperimentStatus, Hypothesis, HypothesisStatus, Trend
from cfl.space import CategoricalParameter, Point

__all__ = ["SUPPORT", "Assessment", "assess"]

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


def _design_matrix(campaign: Campaign, points: Sequence[Point]) -> tuple[np.ndarray, list[str]]:
    columns: list[np.ndarray] = [np.ones(len(points))]
    names = ["intercept"]
    for parameter in campaign.spec.space.parameters:
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


def _assess_trend(campaign: Campaign, trend: Trend, rows: list[tuple[Point, float]]) -> Assessment:
    inside = [(p, y) for p, y in rows if trend.low <= float(p[trend.variable]) <= trend.high]
    n = len(inside)
    p = 1 + sum(
        len(q.levels) - 1 if isinstance(q, CategoricalParameter) else 1
        for q in campaign.spec.space.parameters
    )
    if n < p + 3:
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n), "p": float(p)})
    x, names = _design_matrix(campaign, [point for point, _ in inside])
    y = np.array([v for _, v in inside])
    coef, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    column = names.index(trend.variable)
    residual = y - x @ coef
    dof = n - int(rank)
    sigma2 = float(residual @ residual) / dof
    covariance = sigma2 * np.linalg.pinv(x.T @ x)
    se = float(np.sqrt(max(covariance[column, column], 0.0)))
    estimate = float(coef[column])
    if se == 0.0 or not np.isfinite(se):
        return Assessment(HypothesisStatus.OPEN, 0.5, n, {"n": float(n), "estimate": estimate})
    t_value = trend.sign * estimate / se
    credence = float(stats.t.cdf(t_value, dof))
    return Assessment(
        _status(credence),
        credence,
        n,
        {"n": float(n), "estimate_per_sd": estimate, "se": se, "t": t_value, "dof": float(dof)},
    )


def _assess_best_level(
    campaign: Campaign, best: BestLevel, rows: list[tuple[Point, float]]
) -> Assessment:
    direction = next(o.direction for o in campaign.spec.objectives if o.name == best.objective)
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
    return Assessment(
        _status(credence),
        credence,
        n,
        {
            "n": float(n),
            "t": float(t_value),
            "dof": float(dof),
            "level_mean": float(level.mean()),
            "others_mean": float(others.mean()),
        },
    )


def assess(campaign: Campaign, hypothesis: Hypothesis) -> Assessment:
    """Weigh the evidence for ``hypothesis`` in ``campaign`` (see the module docstring)."""
    rows = _evidence(campaign, hypothesis)
    prediction = hypothesis.prediction
    if isinstance(prediction, Trend):
        return _assess_trend(campaign, prediction, rows)
    return _assess_best_level(campaign, prediction, rows)
