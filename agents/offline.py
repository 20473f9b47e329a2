"""The offline co-scientist: hypotheses from a surrogate model of the data, no LLM needed.

It fits a Gaussian process to each optimised objective and reads effects off the model's partial
dependence [Friedman2001]_: for a numeric variable ``x_j``, ``PD_j(v)`` is the model's mean
prediction with ``x_j`` set to ``v`` and the other variables at their observed values,

    PD_j(v) = (1/n) * sum_i mu(v, x_{i,-j}).

Over a grid of ``v``, the longest stretch where ``PD_j`` moves one way becomes a *trend*
hypothesis ("yield falls with temperature over 60-120 degC") if the change there is at least
``min_effect`` of the observed range of the objective. For a categorical variable, a level whose
partial dependence beats every other level by that margin becomes a *best level* hypothesis.
For two numeric variables ``a`` and ``b``, the effect of ``a`` (``PD`` at its top minus its
bottom) read with ``b`` at its top and at its bottom: if it differs by that margin, an
*interaction* hypothesis. And a numeric variable whose partial dependence peaks inside its range
(in the objective's direction) gives a *region* hypothesis: the optimum lies within one grid step
either side of the peak. Candidates are ranked by the size of the effect; at most ``per_round``
are proposed per round.

Evolution pairs each of the best-rated hypotheses that are not refuted (Elo, then credence: the
tournament's leaders) with every other one alive, in two moves the surrogate can check. *Merge*:
two trends in one variable, the objective improving up to some value and worsening after it ("rises
over 30-66", "falls over 66-120"), say together that the best lies between, so they become a region
hypothesis read off the partial dependence over the span of both. *Combine*: two effects in
different numeric variables become an interaction hypothesis about that pair, if the model shows
one (the generator proposes interactions by size over all pairs; combining asks about the pair the
leaders name). Evolved drafts pass the same effect-size and ``min_z`` gates as generated ones; at
most ``evolve`` per round, on top of ``per_round``.

As a judge in the hypothesis tournament (:mod:`cfl.tournament`) it prefers the hypothesis whose
prediction the data so far bear out better (:func:`cfl.evidence.weigh` on all experiments, not
only those after registration: a judge gives a prior, the evidence that counts comes later).

Two gates keep it from reading noise as effects. An objective is examined only if the GP explains
the data better than a constant plus noise by more than a BIC penalty for its hyperparameters
(:meth:`OfflineCoScientist._explains_more_than_noise`); on flat noisy data it then proposes
nothing. And each effect must lie ``min_z`` posterior standard deviations from zero
(:meth:`OfflineCoScientist._effect_z`). The price is patience: on a rugged 4-D response such as the
SnAr demo, the first hypotheses come after some 25 experiments.

It only proposes. CFL registers each hypothesis before the experiments that test it are designed
and judges it on those experiments alone (:mod:`cfl.evidence`).

.. [Friedman2001] J. H. Friedman, "Greedy function approximation: a gradient boosting machine",
   Annals of Statistics 29(5), 1189-1232 (2001), section 8.2.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits

from cfl.evidence import weigh
from cfl.hypotheses import HypothesisDraft, MetaReview, ProposalContext, prediction_key
from cfl.models import (
    BestLevel,
    ExperimentStatus,
    Hypothesis,
    HypothesisStatus,
    Interaction,
    Optimum,
    Trend,
)
from cfl.space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
    Point,
    SearchSpace,
)
from cfl.spec import CampaignSpec, Objective
from cfl.tournament import final_rank, top_hypotheses

__all__ = ["OfflineCoScientist"]

VERSION = "0.1"


def _encode(space: SearchSpace, points: list[Point]) -> NDArray[np.float64]:
    """Numeric parameters scaled to [0, 1] (log scale where declared), categoricals one-hot."""
    columns: list[NDArray[np.float64]] = []
    for p in space.parameters:
        if isinstance(p, CategoricalParameter):
            for level in p.levels:
                columns.append(np.array([1.0 if q[p.name] == level else 0.0 for q in points]))
        else:
            x = np.array([float(q[p.name]) for q in points])
            low, high = float(p.low), float(p.high)
            if isinstance(p, ContinuousParameter) and p.log_scale:
                x, low, high = np.log(x), np.log(low), np.log(high)
            columns.append((x - low) / (high - low))
    return np.column_stack(columns)


def _longest_monotone_run(values: NDArray[np.float64]) -> tuple[int, int, int]:
    """``(start, end, sign)`` of the stretch of ``values`` with the largest one-way change."""
    steps = np.sign(np.diff(values))
    best = (0, 1, 1)
    best_change = -1.0
    start = 0
    for i in range(1, len(steps) + 1):
        if i == len(steps) or steps[i] != steps[start]:
            change = abs(values[i] - values[start])
            if steps[start] != 0 and change > best_change:
                best, best_change = (start, i, int(steps[start])), change
            start = i
    return best


class OfflineCoScientist:
    """Proposes trend and best-level hypotheses from a GP fitted to the data.

    Args:
        grid: Points along each numeric variable at which partial dependence is read.
        min_effect: Smallest effect worth a hypothesis, as a share of the objective's observed
            range.
        min_z: Smallest effect worth a hypothesis, in posterior standard deviations of the
            effect (see :meth:`_effect_z`).
        per_round: Most hypotheses generated in one round.
        evolve: Most hypotheses evolved from the leaders in one round (0: no evolution).
        evolve_top: How many best-rated hypotheses evolution starts from.
        draw_margin: Credences closer than this are a draw when judging a pair.
    """

    author = f"agent:offline-coscientist@{VERSION}"

    def __init__(
        self,
        *,
        seed: int,
        grid: int = 11,
        min_effect: float = 0.15,
        min_z: float = 2.0,
        per_round: int = 2,
        evolve: int = 1,
        evolve_top: int = 3,
        draw_margin: float = 0.05,
    ) -> None:
        self._evolve = evolve
        self._evolve_top = evolve_top
        self._seed = seed
        self._draw_margin = draw_margin
        self._grid = grid
        self._min_effect = min_effect
        self._min_z = min_z
        self._per_round = per_round

    @classmethod
    def from_spec(cls, spec: CampaignSpec) -> OfflineCoScientist:
        """The co-scientist for a campaign."""
        return cls(seed=spec.seed)

    def propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        with threadpool_limits(limits=1):  # tiny matrices: threaded BLAS only spins
            return self._propose(context)

    def _propose(self, context: ProposalContext) -> list[HypothesisDraft]:
        space = context.spec.space
        done = [e for e in context.experiments if e.status == ExperimentStatus.DONE]
        if len(done) < len(space.parameters) + 2:
            return []
        points = [e.params for e in done]
        x = _encode(space, points)
        drafts: list[tuple[float, HypothesisDraft]] = []
        evolved: list[tuple[float, HypothesisDraft]] = []
        for objective in context.spec.objectives:
            if objective.weight == 0:
                continue
            y = np.array([context.observations[e.id].values[objective.name] for e in done])
            spread = float(y.max() - y.min())
            if spread <= 0:
                continue
            model = self._fit(x, y, objective.noise_sd)
            if not self._explains_more_than_noise(model, x, y, objective.noise_sd):
                continue
            for parameter in space.parameters:
                candidate = self._candidate(space, parameter, points, model, objective, spread)
                if candidate is not None:
                    drafts.append(candidate)
                if not isinstance(parameter, CategoricalParameter):
                    region = self._region(space, parameter, points, model, objective, spread)
                    if region is not None:
                        drafts.append(region)
            numeric = [q for q in space.parameters if not isinstance(q, CategoricalParameter)]
            for a, b in itertools.combinations(numeric, 2):
                pair = self._interaction(space, a, b, points, model, objective, spread)
                if pair is not None:
                    drafts.append(pair)
            evolved += self._evolved(context, points, model, objective, spread)
        drafts.sort(key=lambda item: -item[0])
        generated = [draft for _, draft in drafts[: self._per_round]]
        taken = {prediction_key(d.prediction) for d in generated}
        evolved.sort(key=lambda item: -item[0])
        fresh = [d for _, d in evolved if prediction_key(d.prediction) not in taken]
        return generated + fresh[: self._evolve]

    def _fit(
        self, x: NDArray[np.float64], y: NDArray[np.float64], noise_sd: float | None
    ) -> GaussianProcessRegressor:
        """A GP on ``y`` (normalised); the noise is the declared one when known.

        Length scales stay above 0.2 of a parameter's range: lab responses are smooth at that
        scale, and shorter ones only thread the curve through measurement noise.
        """
        if noise_sd is None:
            noise = WhiteKernel(1e-2, noise_level_bounds=(1e-6, 1.0))
        else:  # in the units of the normalised data, as sklearn fits them
            noise = WhiteKernel((noise_sd / float(np.std(y))) ** 2, noise_level_bounds="fixed")
        kernel = (
            ConstantKernel(1.0)
            * Matern(length_scale=np.ones(x.shape[1]), length_scale_bounds=(0.2, 20.0), nu=2.5)
            + noise
        )
        model = GaussianProcessRegressor(
            kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=self._seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter from L-BFGS on small data
            model.fit(x, y)
        return model

    @staticmethod
    def _explains_more_than_noise(
        model: GaussianProcessRegressor,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        noise_sd: float | None,
    ) -> bool:
        """Whether the GP beats "a constant plus noise" by more than its extra parameters cost.

        Both likelihoods are of the normalised data (unit variance). With the noise unknown, the
        constant-plus-noise model's maximised log likelihood is ``-n/2 (log 2 pi + 1)``; with a
        declared noise ``s`` (``s_n = s / sd(y)`` normalised) it is
        ``-n/2 log(2 pi s_n^2) - n / (2 s_n^2)``. The GP must exceed it by more than the BIC
        penalty ``(d + 1)/2 log n`` of its ``d`` length scales and signal variance
        [Schwarz1978]_; otherwise it is fitting noise, and any partial dependence read off it is
        too.

        .. [Schwarz1978] G. Schwarz, "Estimating the dimension of a model", Annals of Statistics
           6(2), 461-464 (1978).
        """
        n = x.shape[0]
        if noise_sd is None:
            noise_only = -0.5 * n * (float(np.log(2 * np.pi)) + 1.0)
        else:
            s2 = (noise_sd / float(np.std(y))) ** 2
            noise_only = -0.5 * n * float(np.log(2 * np.pi * s2)) - n / (2 * s2)
        penalty = 0.5 * (x.shape[1] + 1) * float(np.log(n))
        return bool(float(model.log_marginal_likelihood_value_) - noise_only > penalty)

    def _candidate(
        self,
        space: SearchSpace,
        parameter: Parameter,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
    ) -> tuple[float, HypothesisDraft] | None:
        """The strongest hypothesis about ``parameter``'s effect, with its size, if any."""
        if isinstance(parameter, CategoricalParameter):
            return self._best_level(space, parameter, points, model, objective, spread)
        return self._trend(space, parameter, points, model, objective, spread)

    def _best_level(
        self,
        space: SearchSpace,
        parameter: CategoricalParameter,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
    ) -> tuple[float, HypothesisDraft] | None:
        sign = 1.0 if objective.direction == "maximize" else -1.0
        means = {
            level: sign * self._partial_dependence(space, model, points, parameter.name, level)
            for level in parameter.levels
        }
        ranked = sorted(means, key=lambda level: -means[level])
        effect = means[ranked[0]] - means[ranked[1]]
        if effect < self._min_effect * spread:
            return None
        z = sign * self._effect_z(space, model, points, parameter.name, ranked[1], ranked[0])
        if z < self._min_z:
            return None
        best = "highest" if sign > 0 else "lowest"
        return effect, HypothesisDraft(
            statement=(
                f"{parameter.name}={ranked[0]} gives the {best} {objective.name} of its levels"
            ),
            kind="effect",
            prediction=BestLevel(
                objective=objective.name, variable=parameter.name, level=ranked[0]
            ),
            rationale=(
                f"Partial dependence of a GP fitted to {len(points)} experiments puts "
                f"{ranked[0]} {effect:.3g} ahead of the runner-up {ranked[1]}."
            ),
            author=self.author,
        )

    def _trend(
        self,
        space: SearchSpace,
        parameter: ContinuousParameter | IntegerParameter,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
    ) -> tuple[float, HypothesisDraft] | None:
        grid = self._grid_of(parameter)
        curve = np.array(
            [self._partial_dependence(space, model, points, parameter.name, float(v)) for v in grid]
        )
        start, end, direction = _longest_monotone_run(curve)
        effect = abs(float(curve[end] - curve[start]))
        if effect < self._min_effect * spread:
            return None
        z = direction * self._effect_z(
            space, model, points, parameter.name, float(grid[start]), float(grid[end])
        )
        if z < self._min_z:
            return None
        sign: Literal[1, -1] = 1 if direction > 0 else -1
        unit = f" {parameter.unit}" if parameter.unit else ""
        objective_unit = f" {objective.unit}" if objective.unit else ""
        verb = "rises" if sign > 0 else "falls"
        return effect, HypothesisDraft(
            statement=(
                f"{objective.name} {verb} with {parameter.name} over "
                f"{grid[start]:.3g}-{grid[end]:.3g}{unit}"
            ),
            kind="effect",
            prediction=Trend(
                objective=objective.name,
                variable=parameter.name,
                sign=sign,
                low=float(grid[start]),
                high=float(grid[end]),
            ),
            rationale=(
                f"Partial dependence of a GP fitted to {len(points)} experiments changes by "
                f"{curve[end] - curve[start]:+.3g}{objective_unit} over this range, "
                f"{effect / spread:.0%} of the observed spread of {objective.name}."
            ),
            author=self.author,
        )

    def _region(
        self,
        space: SearchSpace,
        parameter: ContinuousParameter | IntegerParameter,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
        span: tuple[float, float] | None = None,
    ) -> tuple[float, HypothesisDraft] | None:
        """An optimum inside the range (or ``span`` of it): the best grid point beats both ends."""
        sign = 1.0 if objective.direction == "maximize" else -1.0
        grid = self._grid_of(parameter, span)
        curve = sign * np.array(
            [self._partial_dependence(space, model, points, parameter.name, float(v)) for v in grid]
        )
        peak = int(np.argmax(curve))
        if peak in (0, len(grid) - 1):
            return None
        effect = float(curve[peak] - max(curve[0], curve[-1]))
        if effect < self._min_effect * spread:
            return None
        for end in (0, len(grid) - 1):
            z = sign * self._effect_z(
                space, model, points, parameter.name, float(grid[end]), float(grid[peak])
            )
            if z < self._min_z:
                return None
        low, high = float(grid[peak - 1]), float(grid[peak + 1])
        unit = f" {parameter.unit}" if parameter.unit else ""
        best = "highest" if sign > 0 else "lowest"
        return effect, HypothesisDraft(
            statement=(
                f"the {best} {objective.name} lies at {parameter.name} between "
                f"{low:.3g} and {high:.3g}{unit}"
            ),
            kind="region",
            prediction=Optimum(
                objective=objective.name, variable=parameter.name, low=low, high=high
            ),
            rationale=(
                f"Partial dependence of a GP fitted to {len(points)} experiments peaks at "
                f"{parameter.name}={grid[peak]:.3g}{unit}, {effect:.3g} above the better end."
            ),
            author=self.author,
        )

    def _interaction(
        self,
        space: SearchSpace,
        a: ContinuousParameter | IntegerParameter,
        b: ContinuousParameter | IntegerParameter,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
    ) -> tuple[float, HypothesisDraft] | None:
        """Whether ``a``'s effect differs with ``b`` at its top and at its bottom.

        The difference of differences is again a linear functional of the GP, so its z is read
        as in :meth:`_effect_z`, over the four corner copies of the data.
        """
        a_lo, a_hi, b_lo, b_hi = float(a.low), float(a.high), float(b.low), float(b.high)
        corners = [(a_hi, b_hi, 1.0), (a_lo, b_hi, -1.0), (a_hi, b_lo, -1.0), (a_lo, b_lo, 1.0)]
        moved: list[Point] = []
        for va, vb, _ in corners:
            moved += [{**p, a.name: va, b.name: vb} for p in points]
        mean, cov = model.predict(_encode(space, moved), return_cov=True)
        n = len(points)
        w = np.concatenate([np.full(n, weight / n) for _, _, weight in corners])
        contrast = float(w @ mean)
        z = abs(contrast) / float(np.sqrt(max(float(w @ cov @ w), 1e-12)))
        if abs(contrast) < self._min_effect * spread or z < self._min_z:
            return None
        sign: Literal[1, -1] = 1 if contrast > 0 else -1
        change = "more" if sign > 0 else "less"
        return abs(contrast), HypothesisDraft(
            statement=(f"{objective.name} gains {change} from {a.name} when {b.name} is high"),
            kind="interaction",
            prediction=Interaction(
                objective=objective.name, variable=a.name, moderator=b.name, sign=sign
            ),
            rationale=(
                f"In a GP fitted to {len(points)} experiments, the effect of {a.name} over its "
                f"range changes by {contrast:+.3g} between {b.name}={b_lo:g} and {b_hi:g}."
            ),
            author=self.author,
        )

    def _grid_of(
        self,
        parameter: ContinuousParameter | IntegerParameter,
        span: tuple[float, float] | None = None,
    ) -> NDArray[np.float64]:
        low, high = span or (float(parameter.low), float(parameter.high))
        if isinstance(parameter, ContinuousParameter) and parameter.log_scale:
            return np.geomspace(low, high, self._grid)
        return np.linspace(low, high, self._grid)

    # -- evolution --------------------------------------------------------------------------

    def _evolved(
        self,
        context: ProposalContext,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
    ) -> list[tuple[float, HypothesisDraft]]:
        """Merges and combinations of the leading hypotheses about ``objective`` (module doc)."""
        if self._evolve <= 0:
            return []
        space = context.spec.space
        known = {prediction_key(h.prediction) for h in context.hypotheses}
        alive = [
            h
            for h in context.hypotheses
            if h.prediction.objective == objective.name and h.status != HypothesisStatus.REFUTED
        ]
        leaders = {h.id for h in top_hypotheses(alive, self._evolve_top)}
        out: list[tuple[float, HypothesisDraft]] = []
        for first, second in itertools.combinations(sorted(alive, key=lambda h: h.id), 2):
            if first.id not in leaders and second.id not in leaders:
                continue  # at least one parent is among the best rated
            child = self._merge(space, first, second, points, model, objective, spread)
            if child is None:
                child = self._combine(space, first, second, points, model, objective, spread)
            if child is not None and prediction_key(child[1].prediction) not in known:
                out.append(child)
        return out

    def _merge(
        self,
        space: SearchSpace,
        first: Hypothesis,
        second: Hypothesis,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
    ) -> tuple[float, HypothesisDraft] | None:
        """Opposite trends in one variable, improving below worsening: a region between them."""
        a, b = first.prediction, second.prediction
        if not (isinstance(a, Trend) and isinstance(b, Trend)):
            return None
        if a.variable != b.variable or a.sign == b.sign:
            return None
        improving = 1 if objective.direction == "maximize" else -1
        up, down = (a, b) if a.sign == improving else (b, a)
        if not up.low < down.high or (up.low + up.high) >= (down.low + down.high):
            return None  # the objective worsens first, then improves: no optimum between
        parameter = space.parameter(up.variable)
        assert isinstance(parameter, (ContinuousParameter, IntegerParameter))
        region = self._region(
            space, parameter, points, model, objective, spread, span=(up.low, down.high)
        )
        if region is None:
            return None
        effect, draft = region
        ids = (
            f"{first.id} and {second.id}" if first.id < second.id else f"{second.id} and {first.id}"
        )
        return effect, draft.model_copy(
            update={
                "rationale": f"Merges {ids} ({first.statement}; {second.statement}). "
                + draft.rationale
            }
        )

    def _combine(
        self,
        space: SearchSpace,
        first: Hypothesis,
        second: Hypothesis,
        points: list[Point],
        model: GaussianProcessRegressor,
        objective: Objective,
        spread: float,
    ) -> tuple[float, HypothesisDraft] | None:
        """Effects in two different numeric variables: does one moderate the other?"""
        names = [p.variable for p in (first.prediction, second.prediction) if isinstance(p, Trend)]
        if len(names) != 2 or names[0] == names[1]:
            return None
        a, b = (space.parameter(n) for n in sorted(names))
        assert isinstance(a, (ContinuousParameter, IntegerParameter))
        assert isinstance(b, (ContinuousParameter, IntegerParameter))
        pair = self._interaction(space, a, b, points, model, objective, spread)
        if pair is None:
            return None
        effect, draft = pair
        return effect, draft.model_copy(
            update={
                "rationale": f"Combines {first.id} ({first.statement}) and {second.id} "
                f"({second.statement}). " + draft.rationale
            }
        )

    # -- the meta-review --------------------------------------------------------------------

    def review(self, context: ProposalContext) -> MetaReview:
        """What the evidence says about each hypothesis, best ranked first, and what to do next.

        Written from the record alone (statuses, credences, Bayes factors, the tournament), so
        it says nothing the ledger does not hold: the best measured result, the verdicts, and
        as next steps the open hypotheses worth more experiments and a replicate of the best.
        """
        ranked = final_rank({h.id: h for h in context.hypotheses})
        verdicts = {
            status: [h for h in ranked if h.status == status] for status in HypothesisStatus
        }
        parts = [
            f"{len(ranked)} hypotheses: {len(verdicts[HypothesisStatus.SUPPORTED])} supported, "
            f"{len(verdicts[HypothesisStatus.REFUTED])} refuted, "
            f"{len(verdicts[HypothesisStatus.OPEN])} open."
        ]
        for status in (HypothesisStatus.SUPPORTED, HypothesisStatus.REFUTED):
            for h in verdicts[status]:
                parts.append(
                    f"{h.id} {status.value} ({h.statement}; credence {h.credence:.2f}, "
                    f"Bayes factor 10^{h.log10_bf:+.1f} on {h.evidence_n} experiments)."
                )
        best = _best(context)
        steps: list[str] = []
        if best is not None:
            experiment, objective, value = best
            parts.append(f"Best measured {objective}: {value:.4g} at {experiment}.")
            steps.append(f"Replicate {experiment} to confirm its {objective} before scaling up.")
        for h in verdicts[HypothesisStatus.OPEN][:2]:
            steps.append(
                f"Test {h.id} further ({h.statement}): credence {h.credence:.2f} after "
                f"{h.evidence_n} experiments."
            )
        return MetaReview(summary=" ".join(parts), next_steps=tuple(steps))

    # -- the tournament ---------------------------------------------------------------------

    def compare(self, first: Hypothesis, second: Hypothesis, context: ProposalContext) -> float:
        """1 if the data so far bear ``first`` out better than ``second``, 0 if worse, else 0.5.

        "Better" is a credence (:func:`cfl.evidence.weigh` on every finished experiment) higher
        by more than ``draw_margin``; closer than that is a draw, so noise does not decide.
        """
        a, b = self._plausibility(first, context), self._plausibility(second, context)
        if abs(a - b) <= self._draw_margin:
            return 0.5
        return 1.0 if a > b else 0.0

    def _plausibility(self, hypothesis: Hypothesis, context: ProposalContext) -> float:
        objective = hypothesis.prediction.objective
        rows = [
            (e.params, context.observations[e.id].values[objective])
            for e in context.experiments
            if e.status == ExperimentStatus.DONE and e.id in context.observations
        ]
        return weigh(context.spec, hypothesis.prediction, rows).credence

    def _effect_z(
        self,
        space: SearchSpace,
        model: GaussianProcessRegressor,
        points: list[Point],
        variable: str,
        start: float | str,
        end: float | str,
    ) -> float:
        """How many posterior standard deviations ``PD(end) - PD(start)`` lies from zero.

        The difference is a linear functional of the latent function, ``w' f`` with weights
        ``+1/n`` at the points moved to ``end`` and ``-1/n`` at the points moved to ``start``, so
        its posterior is normal with mean ``w' mu`` and variance ``w' Sigma w`` [Rasmussen2006]_
        (eq. 2.24). A GP that has merely threaded its curve through noise has short length scales
        and is uncertain between the data, so its effects do not pass.

        .. [Rasmussen2006] C. E. Rasmussen, C. K. I. Williams, Gaussian Processes for Machine
           Learning, MIT Press (2006).
        """
        moved = [{**p, variable: end} for p in points] + [{**p, variable: start} for p in points]
        mean, cov = model.predict(_encode(space, moved), return_cov=True)
        n = len(points)
        w = np.concatenate([np.full(n, 1.0 / n), np.full(n, -1.0 / n)])
        variance = float(w @ cov @ w)
        return float(w @ mean) / float(np.sqrt(max(variance, 1e-12)))

    def _partial_dependence(
        self,
        space: SearchSpace,
        model: GaussianProcessRegressor,
        points: list[Point],
        variable: str,
        value: float | str,
    ) -> float:
        grid_points = [{**p, variable: value} for p in points]
        return float(np.mean(model.predict(_encode(space, grid_points))))


def _best(context: ProposalContext) -> tuple[str, str, float] | None:
    """The experiment with the best value of the first optimised objective."""
    objective = next((o for o in context.spec.objectives if o.weight > 0), None)
    if objective is None or not context.observations:
        return None
    sign = 1.0 if objective.direction == "maximize" else -1.0
    eid, observation = max(
        context.observations.items(), key=lambda item: sign * item[1].values[objective.name]
    )
    return eid, objective.name, observation.values[objective.name]
