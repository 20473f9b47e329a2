"""Strategies by name: CFL's planners and the peers they are held against.

Every strategy is a factory ``(problem, seed, batch, initial) -> cfl.planner.Planner``, so the
harness drives peers exactly as it drives CFL's own planners. Names:

* every planner registered under the ``cfl.planners`` entry point (``random``, ``skopt-gp``,
  and whatever else is installed), built through its ``from_spec`` from a campaign spec that
  states the problem's space, objectives (with their noise) and the shared initial design size;
* ``skopt-default``: scikit-optimize's ``Optimizer`` at its defaults (GP, ``gp_hedge``, 10 random
  initial points; constant liar ``cl_min`` for batches);
* ``optuna-tpe`` and ``optuna-gp``: Optuna's TPESampler and GPSampler through ask/tell;
* ``baybe`` and ``ax``: BayBE's ``Campaign`` and Ax's ``Client`` (the ``peers`` extra).

Shared rules, stated in the report:

* *Initial design*: the first :data:`INITIAL_DESIGN` points are the same maximin Latin hypercube
  CFL's skopt planner uses (seeded by the run's seed) for Optuna (enqueued trials), BayBE and Ax
  (handed out by the adapter, then told as measurements); skopt-default keeps its own random
  start (that is its default) of the same size; CFL planners are given ``initial_design = 10``.
  :func:`build` takes another size (``initial``) for everyone, e.g. a leaderboard submission's.
* *Several objectives*: Optuna optimises them natively (TPE and GP both do); skopt, BayBE and Ax
  see the problem's stated scalarisation :meth:`Problem.score`.
* *Black-box constraints*: Optuna models them (``Trial.set_constraint``); skopt, BayBE and Ax are
  told an infeasible evaluation as the worst score observed so far (:class:`Penalty`).
* *Pending experiments*: Optuna keeps asked trials running, BayBE gets ``pending_experiments``,
  Ax keeps trials open; skopt cannot model them and ignores them.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from skopt import Optimizer
from skopt.sampler import Lhs
from skopt.space import Dimension, Space

from benchmarks.problems import Problem
from cfl.errors import SpecError
from cfl.lab import DeviceSpec, LabSpec
from cfl.planner import Evaluation, Planner, skopt_dimension, skopt_point
from cfl.protocol import Step
from cfl.registry import available_plugins, load_plugin
from cfl.space import (
    ContinuousParameter,
    IntegerParameter,
    ParamValue,
    Point,
    SearchSpace,
)
from cfl.spec import Budget, CampaignSpec, Objective

if TYPE_CHECKING:
    import optuna

__all__ = [
    "INITIAL_DESIGN",
    "PEERS",
    "Factory",
    "Penalty",
    "build",
    "campaign_spec",
    "initial_design",
    "names",
    "parse",
    "unavailable",
]

Factory = Callable[[Problem, int, int, int], Planner]
"""``(problem, seed, batch, initial design size) -> planner``."""

INITIAL_DESIGN = 10
"""Space-filling points every strategy starts from (where the strategy allows)."""

NOMINAL_BUDGET = 100
"""Budget written into the campaign spec CFL planners are built from (they may read it)."""

_PEERS_HINT = "pip install -e '.[peers]' (see pyproject.toml)"


@dataclass(frozen=True)
class _Peer:
    factory: Factory
    requires: tuple[str, ...]
    """Modules that must be importable."""


def _dimensions(space: SearchSpace) -> list[Dimension]:
    return [skopt_dimension(p) for p in space.parameters]


def _row(space: SearchSpace, point: Point) -> list[ParamValue]:
    return [point[name] for name in space.names]


def _key(space: SearchSpace, point: Point) -> tuple[ParamValue, ...]:
    return tuple(_row(space, point))


def initial_design(space: SearchSpace, n: int, seed: int) -> list[Point]:
    """The maximin Latin hypercube of ``n`` points CFL's skopt planner starts from."""
    rows = Lhs(criterion="maximin", iterations=200).generate(
        Space(_dimensions(space)).dimensions, n, random_state=seed
    )
    return [skopt_point(space, row) for row in rows]


class Penalty:
    """Scores for planners that cannot model black-box constraints.

    An infeasible evaluation is told as the worst score observed so far (itself included), a
    common "death penalty" that keeps the model's scale.
    """

    def __init__(self) -> None:
        self._worst: float | None = None

    def score(self, evaluation: Evaluation) -> float:
        """The score to tell for ``evaluation``."""
        worst = evaluation.score if self._worst is None else min(self._worst, evaluation.score)
        self._worst = worst
        return evaluation.score if evaluation.feasible else worst


# --- CFL planners ---------------------------------------------------------------------------


def campaign_spec(
    problem: Problem, seed: int, batch: int, initial: int = INITIAL_DESIGN
) -> CampaignSpec:
    """The campaign spec a CFL planner is built from: the problem as a lab would state it."""
    return CampaignSpec(
        name=problem.name.replace("_", "-"),
        goal=f"benchmark problem {problem.name}",
        seed=seed,
        space=problem.space,
        objectives=tuple(
            Objective(name=o.name, direction=o.direction, weight=o.weight, noise_sd=o.noise_sd)
            for o in problem.objectives
        ),
        budget=Budget(experiments=NOMINAL_BUDGET),
        batch_size=batch,
        initial_design=initial,
        coscientist=None,
        testing_share=0.0,
        lab=LabSpec(
            name="benchmark",
            clock="virtual",
            devices={"reactor": DeviceSpec(driver="sim-flow-reactor", role="reactor")},
        ),
        protocol=(Step(command="react", role="reactor"),),
    )


def _cfl_factory(name: str) -> Factory:
    def build(problem: Problem, seed: int, batch: int, initial: int) -> Planner:
        plugin = load_plugin("cfl.planners", name)
        from_spec = getattr(plugin, "from_spec", None)
        if from_spec is None:
            raise SpecError(
                f"planner {name!r} ({plugin!r}) has no from_spec(spec); give the class a "
                "from_spec classmethod so the benchmark can build it"
            )
        planner = from_spec(campaign_spec(problem, seed, batch, initial))
        if not isinstance(planner, Planner):
            raise SpecError(f"planner {name!r} built {planner!r}, which is not a cfl Planner")
        return planner

    return build


# --- skopt at its defaults ------------------------------------------------------------------


class SkoptDefault:
    """scikit-optimize's ``Optimizer`` at its defaults, behind the Planner protocol.

    Results are told at the next ``suggest`` (skopt refits its model when told), so the time
    of a suggestion includes fitting, as it does for every other strategy.
    """

    def __init__(self, problem: Problem, seed: int, initial: int = INITIAL_DESIGN) -> None:
        self._space = problem.space
        self._optimizer = Optimizer(
            _dimensions(problem.space), n_initial_points=initial, random_state=seed
        )
        self._penalty = Penalty()
        self._untold: list[tuple[list[ParamValue], float]] = []

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        for e in evaluations:
            self._untold.append((_row(self._space, e.params), -self._penalty.score(e)))

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        if self._untold:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # repeated points only warn
                self._optimizer.tell([x for x, _ in self._untold], [y for _, y in self._untold])
            self._untold = []
        rows = [self._optimizer.ask()] if n == 1 else self._optimizer.ask(n_points=n)
        return [skopt_point(self._space, row) for row in rows]


# --- Optuna ---------------------------------------------------------------------------------


def _distributions(space: SearchSpace) -> dict[str, optuna.distributions.BaseDistribution]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    found: dict[str, optuna.distributions.BaseDistribution] = {}
    for p in space.parameters:
        if isinstance(p, ContinuousParameter):
            found[p.name] = FloatDistribution(p.low, p.high, log=p.log_scale)
        elif isinstance(p, IntegerParameter):
            found[p.name] = IntDistribution(p.low, p.high)
        else:
            found[p.name] = CategoricalDistribution(list(p.levels))
    return found


class OptunaPlanner:
    """An Optuna sampler through ask/tell: asked trials stay running until their result comes.

    Several objectives are optimised natively (each told higher-is-better); black-box
    constraints are set on each trial (``Trial.set_constraint``), which both samplers model.
    The shared initial design is enqueued as it falls due.
    """

    def __init__(
        self, problem: Problem, seed: int, sampler: str, initial: int = INITIAL_DESIGN
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("optuna").setLevel(logging.WARNING)
        self._space = problem.space
        self._multi = len(problem.objectives) > 1
        self._objectives = tuple(o.name for o in problem.objectives)
        self._distributions = _distributions(problem.space)
        chosen: optuna.samplers.BaseSampler
        if sampler == "tpe":
            chosen = optuna.samplers.TPESampler(seed=seed)
        else:
            chosen = optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
        directions: list[Literal["maximize"]] = ["maximize"] * (
            len(self._objectives) if self._multi else 1
        )
        self._study = optuna.create_study(directions=directions, sampler=chosen)
        self._design = initial_design(problem.space, initial, seed)
        self._running: dict[tuple[ParamValue, ...], list[optuna.trial.Trial]] = {}

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        points = []
        for _ in range(n):
            started = len(self._study.trials)  # told, running and added alike
            if started < len(self._design):  # the shared design first, enqueued as it is due
                self._study.enqueue_trial(dict(self._design[started]))
            trial = self._study.ask(self._distributions)
            point = skopt_point(self._space, [trial.params[name] for name in self._space.names])
            self._running.setdefault(_key(self._space, point), []).append(trial)
            points.append(point)
        return points

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        import optuna

        for e in evaluations:
            values = [e.objectives[name] for name in self._objectives] if self._multi else e.score
            constraints = {k: float(v) for k, v in e.constraints.items()}
            waiting = self._running.get(_key(self._space, e.params))
            if waiting:
                trial = waiting.pop(0)
                for key, value in constraints.items():
                    trial.set_constraint(key, value)
                self._study.tell(trial, values)
            else:  # a result the planner did not ask for (a warm start, a human's experiment)
                self._study.add_trial(
                    optuna.trial.create_trial(
                        params=dict(e.params),
                        distributions=self._distributions,
                        values=values if isinstance(values, list) else [values],
                        constraints=constraints or None,
                    )
                )


# --- BayBE ----------------------------------------------------------------------------------


class _Handout:
    """Hands out the shared initial design while fewer points than it holds were started."""

    def __init__(self, space: SearchSpace, seed: int, initial: int = INITIAL_DESIGN) -> None:
        self._design = initial_design(space, initial, seed)
        self.told = 0

    def take(self, n: int, pending: int) -> list[Point]:
        """Up to ``n`` design points that are due, with ``pending`` experiments still out."""
        return self._design[self.told + pending : self.told + pending + n]


def _torch_one_thread() -> None:
    import torch

    torch.set_num_threads(1)


class BaybePlanner:
    """BayBE's ``Campaign`` at its default recommender, on the problem's stated score.

    Constraints by :class:`Penalty`; pending experiments passed as ``pending_experiments``.
    """

    def __init__(self, problem: Problem, seed: int, initial: int = INITIAL_DESIGN) -> None:
        import baybe
        from baybe.objectives import SingleTargetObjective
        from baybe.parameters import (
            CategoricalParameter as BCategorical,
        )
        from baybe.parameters import (
            NumericalContinuousParameter,
            NumericalDiscreteParameter,
        )
        from baybe.searchspace import SearchSpace as BSpace
        from baybe.targets import NumericalTarget
        from baybe.utils.random import set_random_seed

        _torch_one_thread()
        set_random_seed(seed)
        parameters: list[Any] = []
        for p in problem.space.parameters:
            if isinstance(p, ContinuousParameter):
                parameters.append(NumericalContinuousParameter(p.name, (p.low, p.high)))
            elif isinstance(p, IntegerParameter):
                parameters.append(
                    NumericalDiscreteParameter(p.name, [float(v) for v in range(p.low, p.high + 1)])
                )
            else:
                parameters.append(BCategorical(p.name, list(p.levels), encoding="OHE"))
        self._campaign = baybe.Campaign(
            searchspace=BSpace.from_product(parameters),
            objective=SingleTargetObjective(NumericalTarget(name="score")),
        )
        self._space = problem.space
        self._handout = _Handout(problem.space, seed, initial)
        self._penalty = Penalty()

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        import pandas as pd

        chosen = self._handout.take(n, len(pending))
        if len(chosen) < n:
            busy = [*pending, *chosen]
            frame = pd.DataFrame([dict(p) for p in busy]) if busy else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = self._campaign.recommend(n - len(chosen), pending_experiments=frame)
            rows = table[list(self._space.names)].itertuples(index=False)
            chosen += [skopt_point(self._space, list(row)) for row in rows]
        return chosen

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        import pandas as pd

        self._handout.told += len(evaluations)
        rows = [{**e.params, "score": self._penalty.score(e)} for e in evaluations]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._campaign.add_measurements(pd.DataFrame(rows))


# --- Ax -------------------------------------------------------------------------------------


class AxPlanner:
    """Ax's ``Client`` at its default generation strategy, on the problem's stated score.

    Constraints by :class:`Penalty`; asked trials stay open until their result comes.
    """

    def __init__(self, problem: Problem, seed: int, initial: int = INITIAL_DESIGN) -> None:
        from ax.api.client import Client
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

        _torch_one_thread()
        logging.getLogger("ax").setLevel(logging.WARNING)
        self._client = Client(random_seed=seed)
        configs: list[RangeParameterConfig | ChoiceParameterConfig] = []
        for p in problem.space.parameters:
            if isinstance(p, ContinuousParameter):
                configs.append(
                    RangeParameterConfig(
                        name=p.name,
                        bounds=(p.low, p.high),
                        parameter_type="float",
                        scaling="log" if p.log_scale else "linear",
                    )
                )
            elif isinstance(p, IntegerParameter):
                configs.append(
                    RangeParameterConfig(name=p.name, bounds=(p.low, p.high), parameter_type="int")
                )
            else:
                configs.append(
                    ChoiceParameterConfig(
                        name=p.name, values=list(p.levels), parameter_type="str", is_ordered=False
                    )
                )
        self._client.configure_experiment(parameters=configs)
        self._client.configure_optimization(objective="score")
        self._space = problem.space
        self._handout = _Handout(problem.space, seed, initial)
        self._penalty = Penalty()
        self._open: dict[tuple[ParamValue, ...], list[int]] = {}

    def suggest(self, n: int, pending: Sequence[Point]) -> list[Point]:
        chosen = self._handout.take(n, len(pending))
        if len(chosen) < n:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trials = self._client.get_next_trials(max_trials=n - len(chosen))
            for index, parameters in trials.items():
                point = skopt_point(self._space, [parameters[name] for name in self._space.names])
                self._open.setdefault(_key(self._space, point), []).append(index)
                chosen.append(point)
        return chosen

    def ingest(self, evaluations: Sequence[Evaluation]) -> None:
        self._handout.told += len(evaluations)
        for e in evaluations:
            waiting = self._open.get(_key(self._space, e.params))
            index = waiting.pop(0) if waiting else self._client.attach_trial(dict(e.params))
            self._client.complete_trial(index, raw_data={"score": self._penalty.score(e)})


# --- the registry ---------------------------------------------------------------------------

PEERS: dict[str, _Peer] = {
    "skopt-default": _Peer(
        lambda problem, seed, batch, initial: SkoptDefault(problem, seed, initial), ("skopt",)
    ),
    "optuna-tpe": _Peer(
        lambda problem, seed, batch, initial: OptunaPlanner(problem, seed, "tpe", initial),
        ("optuna",),
    ),
    "optuna-gp": _Peer(
        lambda problem, seed, batch, initial: OptunaPlanner(problem, seed, "gp", initial),
        ("optuna", "torch"),
    ),
    "baybe": _Peer(
        lambda problem, seed, batch, initial: BaybePlanner(problem, seed, initial),
        ("baybe", "torch"),
    ),
    "ax": _Peer(
        lambda problem, seed, batch, initial: AxPlanner(problem, seed, initial), ("ax", "torch")
    ),
}
"""Peer strategies and the modules each needs."""


def names() -> list[str]:
    """Every strategy name: CFL's installed planners, then the peers."""
    return [*available_plugins("cfl.planners"), *PEERS]


def unavailable(name: str) -> str | None:
    """Why strategy ``name`` cannot run here (a missing package and how to install it), or None.

    Raises:
        SpecError: no strategy has that name.
    """
    if name in available_plugins("cfl.planners"):
        return None
    if name not in PEERS:
        raise SpecError(f"unknown strategy {name!r}; known strategies: {', '.join(names())}")
    missing = [m for m in PEERS[name].requires if importlib.util.find_spec(m) is None]
    if missing:
        return f"{name}: {', '.join(missing)} not installed; {_PEERS_HINT}"
    return None


def build(
    name: str, problem: Problem, seed: int, batch: int, initial: int = INITIAL_DESIGN
) -> Planner:
    """Strategy ``name``'s planner for one run, starting from ``initial`` space-filling points.

    Raises:
        SpecError: the name is unknown or the strategy is not installed (the message says how).
    """
    reason = unavailable(name)
    if reason is not None:
        raise SpecError(reason)
    if name in available_plugins("cfl.planners"):
        return _cfl_factory(name)(problem, seed, batch, initial)
    return PEERS[name].factory(problem, seed, batch, initial)


def parse(text: str) -> list[str]:
    """Comma-separated strategy names (``all`` for every one), checked.

    Raises:
        SpecError: a name is unknown, or none is given.
    """
    if text.strip() == "all":
        return names()
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    if not chosen:
        raise SpecError(f"no strategy named in {text!r}; use some of: {', '.join(names())}")
    for name in chosen:
        unavailable(name)
    return chosen
