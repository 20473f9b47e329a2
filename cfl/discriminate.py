"""Designing to discriminate: experiments placed where they tell the most about open hypotheses.

Each prediction CFL checks is a claim about one coefficient of a linear model of the objective
(:mod:`cfl.evidence`): the slope of a trend, the product term of an interaction, the curvature and
slope of an optimum, the indicator of a categorical level. For the linear-Gaussian model the
expected information an experiment at ``x`` gives about coefficient ``j`` is exact
[Chaloner1995]_ (section 2.2):

    EIG_j(x) = 1/2 * ln( v_j / v_j(x) ),
    v_j = [A]_jj,   v_j(x) = v_j - (A x)_j^2 / (1 + x' A x),   A = (X'X + lambda I)^-1,

``X`` holding the experiments that will count as evidence for the hypothesis (designed after it
was registered, finished or not: the ones in flight will be observed), in the columns the evidence
regression uses, scaled by the parameters' bounds rather than by the data so candidates and
experiments share one scale; ``lambda = 1e-3`` keeps ``A`` defined before there are enough rows
(Sherman-Morrison gives ``v_j(x)``). The noise variance cancels in the ratio.

The leading hypotheses are the open ones, each weighted by how undecided it is, ``4 c (1 - c)``
for credence ``c`` (1 at even odds, 0 once settled), times its prior from the tournament, so an
experiment is worth most where it bears on several undecided, well-rated hypotheses at once. A
batch is chosen greedily from seeded random candidates: the best candidate is added to every
hypothesis's ``X`` before the next is chosen, so a batch does not repeat itself. A trend only
counts experiments inside its range, so candidates outside it gain nothing for it.

.. [Chaloner1995] K. Chaloner, I. Verdinelli, "Bayesian experimental design: a review",
   Statistical Science 10(3), 273-304 (1995).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cfl.campaign import Campaign
from cfl.hypotheses import tested_by
from cfl.models import BestLevel, Hypothesis, HypothesisStatus, Interaction, Optimum, Trend
from cfl.space import CategoricalParameter, ContinuousParameter, IntegerParameter, Point
from cfl.spec import CampaignSpec
from cfl.tournament import INITIAL_ELO, expected_score

__all__ = ["Aim", "discriminating_points", "information_gain"]

_RIDGE = 1e-3
_CANDIDATES = 512


@dataclass(frozen=True)
class Aim:
    """A designed point and the hypotheses it is meant to test."""

    point: Point
    hypotheses: tuple[str, ...]


def _features(spec: CampaignSpec, point: Point, prediction: object) -> np.ndarray:
    """The evidence regression's row for ``point``, with the column the prediction is about last.

    Numeric parameters are scaled to [-1, 1] by their bounds, categoricals one-hot (first level
    dropped), with an intercept; an interaction adds the product, an optimum the square.
    """
    row = [1.0]
    scaled: dict[str, float] = {}
    for parameter in spec.space.parameters:
        if isinstance(parameter, CategoricalParameter):
            row += [
                1.0 if point[parameter.name] == level else 0.0 for level in parameter.levels[1:]
            ]
        else:
            assert isinstance(parameter, (ContinuousParameter, IntegerParameter))
            low, high = float(parameter.low), float(parameter.high)
            z = 2.0 * (float(point[parameter.name]) - low) / (high - low) - 1.0
            scaled[parameter.name] = z
            row.append(z)
    if isinstance(prediction, Interaction):
        row.append(scaled[prediction.variable] * scaled[prediction.moderator])
    elif isinstance(prediction, Optimum):
        row.append(scaled[prediction.variable] ** 2)
    return np.array(row)


def _target(spec: CampaignSpec, hypothesis: Hypothesis) -> int:
    """Index of the coefficient the prediction is about, in :func:`_features`' columns."""
    p = hypothesis.prediction
    if isinstance(p, (Interaction, Optimum)):
        return -1
    column = 1
    for parameter in spec.space.parameters:
        if isinstance(parameter, CategoricalParameter):
            if isinstance(p, BestLevel) and parameter.name == p.variable:
                levels = list(parameter.levels[1:])
                # the first level has no column: its claim is read off all the others
                return column + levels.index(p.level) if p.level in levels else column
            column += len(parameter.levels) - 1
        else:
            if isinstance(p, Trend) and parameter.name == p.variable:
                return column
            column += 1
    raise ValueError(f"hypothesis {hypothesis.id} names no parameter of the space")


def information_gain(rows: np.ndarray, j: int, candidates: np.ndarray) -> np.ndarray:
    """``EIG_j`` of each candidate row given the design ``rows`` (see the module docstring)."""
    k = candidates.shape[1]
    a = np.linalg.inv(rows.T @ rows + _RIDGE * np.eye(k)) if len(rows) else np.eye(k) / _RIDGE
    ax = candidates @ a  # (A x)' for each candidate (A is symmetric)
    quad: np.ndarray = np.einsum("ij,ij->i", ax, candidates)
    before = float(a[j, j])
    after: np.ndarray = before - ax[:, j] ** 2 / (1.0 + quad)
    gain: np.ndarray = 0.5 * np.log(before / np.maximum(after, 1e-300))
    return gain


@dataclass
class _Target:
    """One open hypothesis during the greedy choice: its design so far and the candidates."""

    hypothesis: Hypothesis
    rows: np.ndarray
    features: np.ndarray
    inside: np.ndarray
    column: int

    def gains(self) -> np.ndarray:
        gain = information_gain(self.rows, self.column, self.features)
        return np.where(self.inside, gain, 0.0) * _weight(self.hypothesis)

    def take(self, index: int) -> None:
        """Candidate ``index`` was chosen: it joins the design if it counts for this one."""
        if self.inside[index]:
            self.rows = np.vstack([self.rows, self.features[index][None, :]])
        self.features = np.delete(self.features, index, axis=0)
        self.inside = np.delete(self.inside, index)


def _weight(hypothesis: Hypothesis) -> float:
    c = hypothesis.credence
    return 4.0 * c * (1.0 - c) * expected_score(hypothesis.elo, INITIAL_ELO) * 2.0


def discriminating_points(
    campaign: Campaign, n: int, pending: Sequence[Point], *, seed: int
) -> list[Aim]:
    """Up to ``n`` points that tell the most about the open hypotheses; none if none is open.

    ``pending`` are points designed in this round by others (the planner) before these: they
    count as rows already.
    """
    spec = campaign.spec
    open_ = [h for h in campaign.hypotheses.values() if h.status == HypothesisStatus.OPEN]
    if n <= 0 or not open_:
        return []
    rng = np.random.default_rng(seed)
    candidates = [_random_point(spec, rng) for _ in range(_CANDIDATES)]
    designed = [e.params for e in campaign.experiments.values()]
    targets: list[_Target] = []
    for h in open_:
        counted = [
            p
            for e, p in zip(campaign.experiments.values(), designed, strict=True)
            if e.index > h.registered_after and tested_by(h.prediction, p)
        ] + [p for p in pending if tested_by(h.prediction, p)]
        width = len(_features(spec, candidates[0], h.prediction))
        targets.append(
            _Target(
                hypothesis=h,
                rows=np.array([_features(spec, p, h.prediction) for p in counted]).reshape(
                    len(counted), width
                ),
                features=np.array([_features(spec, c, h.prediction) for c in candidates]),
                inside=np.array([tested_by(h.prediction, c) for c in candidates]),
                column=_target(spec, h),
            )
        )
    aims: list[Aim] = []
    for _ in range(n):
        gains = [t.gains() for t in targets]
        total = np.sum(gains, axis=0)
        best = int(np.argmax(total))
        if total[best] <= 0:
            break
        aimed = tuple(
            t.hypothesis.id
            for t, gain in zip(targets, gains, strict=True)
            if gain[best] > 0.01 * total[best]
        )
        aims.append(Aim(candidates.pop(best), aimed))
        for t in targets:
            t.take(best)
    return aims


def _random_point(spec: CampaignSpec, rng: np.random.Generator) -> Point:
    point: Point = {}
    for parameter in spec.space.parameters:
        if isinstance(parameter, CategoricalParameter):
            point[parameter.name] = parameter.levels[int(rng.integers(len(parameter.levels)))]
        elif isinstance(parameter, IntegerParameter):
            point[parameter.name] = int(rng.integers(parameter.low, parameter.high + 1))
        else:
            point[parameter.name] = float(rng.uniform(parameter.low, parameter.high))
    return point
