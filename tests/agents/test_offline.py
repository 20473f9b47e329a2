"""The offline co-scientist: which trend and best-level hypotheses it drafts from known data."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.offline import OfflineCoScientist, _encode, _longest_monotone_run
from cfl.hypotheses import HypothesisDraft, ProposalContext
from cfl.models import (
    BestLevel,
    Experiment,
    ExperimentStatus,
    Hypothesis,
    HypothesisStatus,
    Interaction,
    Observation,
    Optimum,
    Trend,
)
from cfl.planner import SkoptPlanner
from cfl.space import CategoricalParameter, ContinuousParameter, Point
from cfl.spec import CampaignSpec, load_spec
from instruments.sim.snar import SnarConditions, simulate_snar, snar_figures
from tests.conftest import demo_spec_data, write_spec

AUTHOR = "agent:offline-coscientist@0.1"
Response = Callable[[Point], float]


def _rising(p: Point) -> float:
    return 50 + 30 * (float(p["temperature"]) - 30) / 90


def _falling(p: Point) -> float:
    return 80 - 30 * (float(p["temperature"]) - 30) / 90


def _context(
    spec: CampaignSpec,
    n: int,
    response: Response,
    *,
    seed: int = 0,
    noise: float = 0.01,
    e_factor: Response | None = None,
    unfinished: int = 0,
) -> ProposalContext:
    """``n`` DONE experiments at seeded random points whose yield is ``response`` plus noise.

    Categorical levels are dealt in turn so every level is seen equally often. ``unfinished``
    adds failed and running experiments, which have no observation.
    """
    rng = np.random.default_rng(seed)
    experiments: list[Experiment] = []
    observations: dict[str, Observation] = {}
    for i in range(n + unfinished):
        params: Point = {}
        for p in spec.space.parameters:
            if isinstance(p, CategoricalParameter):
                params[p.name] = p.levels[i % len(p.levels)]
            else:
                assert isinstance(p, ContinuousParameter)
                params[p.name] = float(rng.uniform(p.low, p.high))
        done = i < n
        status = (
            ExperimentStatus.DONE
            if done
            else (ExperimentStatus.FAILED if i % 2 else ExperimentStatus.RUNNING)
        )
        experiment = Experiment(
            id=f"E{i + 1:04d}",
            index=i + 1,
            round=1 + i // 4,
            params=params,
            protocol=spec.protocol,
            source="initial",
            status=status,
        )
        experiments.append(experiment)
        if done:
            observations[experiment.id] = Observation(
                experiment=experiment.id,
                values={
                    "yield": response(params) + noise * float(rng.standard_normal()),
                    "e_factor": e_factor(params) if e_factor else 10.0 + float(rng.random()),
                },
                device="hplc-1",
                lab_time_s=600.0 * i,
            )
    return ProposalContext(
        spec=spec, experiments=experiments, observations=observations, hypotheses=()
    )


def _trends(drafts: list[HypothesisDraft]) -> list[tuple[str, int]]:
    """(variable, sign) of each draft, which must all be trends."""
    trends = [d.prediction for d in drafts]
    assert all(isinstance(t, Trend) for t in trends)
    return [(t.variable, t.sign) for t in trends if isinstance(t, Trend)]


def _spec_data(**changes: Any) -> dict[str, Any]:
    data = demo_spec_data()
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def demo_spec(tmp_path_factory: pytest.TempPathFactory) -> CampaignSpec:
    """The demo campaign, loaded and fully checked: 4 numeric parameters, e_factor weight 0."""
    folder: Path = tmp_path_factory.mktemp("spec")
    return load_spec(write_spec(folder, demo_spec_data()))


@pytest.fixture(scope="module")
def rising(demo_spec: CampaignSpec) -> list[HypothesisDraft]:
    """Yield rises linearly with temperature; e_factor, not optimised, tracks concentration."""
    context = _context(
        demo_spec,
        20,
        _rising,
        e_factor=lambda p: 5 + 100 * float(p["concentration"]),
        unfinished=4,
    )
    return OfflineCoScientist(seed=7).propose(context)


# --- trends --------------------------------------------------------------------------------------


def test_a_rising_response_gives_one_rising_temperature_trend(
    rising: list[HypothesisDraft],
) -> None:
    assert len(rising) == 1
    (draft,) = rising
    assert draft.prediction == Trend(
        objective="yield", variable="temperature", sign=1, low=30.0, high=120.0
    )
    assert draft.statement == "yield rises with temperature over 30-120 degC"
    assert draft.kind == "effect"
    assert draft.author == AUTHOR


def test_the_rationale_counts_only_finished_experiments_and_states_the_effect(
    rising: list[HypothesisDraft],
) -> None:
    # 20 done, 4 failed or running (with no observation): the GP sees 20.
    rationale = rising[0].rationale
    change = re.search(r"changes by ([+-][0-9.]+) % over this range", rationale)

    assert "fitted to 20 experiments" in rationale
    assert change is not None
    # 50 -> 80 over the range; with the demo spec's declared noise (sd 2) the GP shrinks it a little
    assert float(change.group(1)) == pytest.approx(30.0, abs=2.0)


def test_objectives_of_weight_zero_are_never_the_subject(
    rising: list[HypothesisDraft],
) -> None:
    # e_factor moves 5 + 100 * concentration, a far larger effect than yield's, yet it has
    # weight 0 in the demo spec.
    assert all(d.prediction.objective == "yield" for d in rising)


def test_an_objective_given_weight_becomes_a_subject_too() -> None:
    data = _spec_data()
    data["objectives"][1]["weight"] = 1.0
    spec = CampaignSpec.model_validate(data)
    context = _context(spec, 20, _rising, e_factor=lambda p: 5 + 100 * float(p["concentration"]))

    drafts = OfflineCoScientist(seed=7, per_round=3).propose(context)

    predictions = {(d.prediction.objective, d.prediction.variable) for d in drafts}
    assert predictions == {("yield", "temperature"), ("e_factor", "concentration")}
    # Ranked by effect: e_factor spans 40 units over concentration, yield 30 over temperature.
    assert drafts[0].prediction == Trend(
        objective="e_factor", variable="concentration", sign=1, low=0.1, high=0.5
    )


def test_a_falling_response_gives_a_falling_trend(demo_spec: CampaignSpec) -> None:
    drafts = OfflineCoScientist(seed=7).propose(_context(demo_spec, 20, _falling, seed=1))

    assert [d.prediction for d in drafts] == [
        Trend(objective="yield", variable="temperature", sign=-1, low=30.0, high=120.0)
    ]
    assert drafts[0].statement == "yield falls with temperature over 30-120 degC"


def test_a_flat_response_gives_nothing(demo_spec: CampaignSpec) -> None:
    context = _context(demo_spec, 20, lambda p: 60.0, noise=0.0)

    assert OfflineCoScientist(seed=7).propose(context) == []


def test_a_flat_response_with_measurement_noise_gives_nothing(demo_spec: CampaignSpec) -> None:
    context = _context(demo_spec, 20, lambda p: 60.0, noise=0.5)

    assert OfflineCoScientist(seed=7).propose(context) == []


def test_fewer_finished_experiments_than_parameters_plus_two_gives_nothing(
    demo_spec: CampaignSpec,
) -> None:
    # 4 parameters: 6 finished experiments are needed; 5 done and 10 failed or running are not.
    context = _context(demo_spec, 5, _rising, unfinished=10)

    assert OfflineCoScientist(seed=7).propose(context) == []


def test_six_finished_experiments_are_enough_for_four_parameters(
    demo_spec: CampaignSpec,
) -> None:
    context = _context(demo_spec, 6, _rising)

    drafts = OfflineCoScientist(seed=7).propose(context)

    assert _trends(drafts) == [("temperature", 1)]


@pytest.fixture(scope="module")
def three_effects(demo_spec: CampaignSpec) -> ProposalContext:
    """Yield: +30 over temperature, -20 over residence time, +10 over equivalents."""

    def response(p: Point) -> float:
        return (
            50
            + 30 * (float(p["temperature"]) - 30) / 90
            - 20 * (float(p["residence_time"]) - 0.5) / 1.5
            + 10 * (float(p["equivalents"]) - 1) / 4
        )

    return _context(demo_spec, 20, response)


def test_at_most_per_round_drafts_largest_effect_first(three_effects: ProposalContext) -> None:
    drafts = OfflineCoScientist(seed=7).propose(three_effects)  # per_round defaults to 2

    assert _trends(drafts) == [
        ("temperature", 1),
        ("residence_time", -1),
    ]
    assert drafts[1].prediction == Trend(
        objective="yield", variable="residence_time", sign=-1, low=0.5, high=2.0
    )


def test_per_round_one_keeps_only_the_largest_effect(three_effects: ProposalContext) -> None:
    drafts = OfflineCoScientist(seed=7, per_round=1).propose(three_effects)

    assert _trends(drafts) == [("temperature", 1)]


def test_from_spec_uses_the_campaign_seed(demo_spec: CampaignSpec) -> None:
    assert OfflineCoScientist.from_spec(demo_spec)._seed == demo_spec.seed == 7
    assert OfflineCoScientist.author == AUTHOR


# --- best level ----------------------------------------------------------------------------------


def test_a_categorical_level_that_adds_twenty_gives_a_best_level_draft() -> None:
    data = demo_spec_data()
    data["space"]["parameters"].append(
        {"name": "solvent", "type": "categorical", "levels": ["A", "B", "C"]}
    )
    spec = CampaignSpec.model_validate(data)  # the reactor would refuse a solvent; the agent reads

    drafts = OfflineCoScientist(seed=7).propose(
        _context(spec, 21, lambda p: 50 + (20 if p["solvent"] == "B" else 0))
    )

    assert [d.prediction for d in drafts] == [
        BestLevel(objective="yield", variable="solvent", level="B")
    ]
    assert drafts[0].statement == "solvent=B gives the highest yield of its levels"
    assert drafts[0].author == AUTHOR
    assert "fitted to 21 experiments puts B" in drafts[0].rationale


# --- the longest monotone run --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, 1.0, 2.0, 3.0], (0, 3, 1)),  # rising throughout
        ([3.0, 2.0, 1.0, 0.0], (0, 3, -1)),  # falling throughout
        ([0.0, 1.0, 2.0, 1.0, 0.0, 5.0], (4, 5, 1)),  # up 2, down 2, up 5: the last wins
        ([0.0, 1.0, 2.0, 3.0, 4.0, -10.0], (4, 5, -1)),  # the larger change, not the longer run
        ([5.0, 0.0, 10.0], (1, 2, 1)),  # down 5, up 10
        ([0.0, 2.0, 0.0], (0, 1, 1)),  # a tie keeps the first run
        ([0.0, 2.0, 1.0, 1.0, 1.0, 4.0], (4, 5, 1)),  # a plateau ends a run and is never chosen
        ([1.0, 1.0, 1.0], (0, 1, 1)),  # all flat: the default (its change is 0)
        ([0.0, -1.0], (0, 1, -1)),  # two points
    ],
)
def test_longest_monotone_run(values: list[float], expected: tuple[int, int, int]) -> None:
    assert _longest_monotone_run(np.array(values)) == expected


def test_declared_noise_lets_the_snar_response_through_after_the_initial_design(
    demo_spec: CampaignSpec,
) -> None:
    """The demo's 8 space-filling experiments: estimating the noise as well, a GP cannot tell the
    rugged SnAr response from noise; told the HPLC's repeatability (sd 2), it can."""
    rng = np.random.default_rng(0)
    points = SkoptPlanner.from_spec(demo_spec).suggest(8, [])
    x = _encode(demo_spec.space, points)
    y = []
    for p in points:
        c = SnarConditions(*(float(p[n]) for n in demo_spec.space.names))
        y.append(snar_figures(simulate_snar(c), c).yield_pct + rng.normal(0, 2.0))
    ys = np.array(y)
    proposer = OfflineCoScientist(seed=7)
    unknown = proposer._fit(x, ys, None)
    known = proposer._fit(x, ys, 2.0)
    assert not proposer._explains_more_than_noise(unknown, x, ys, None)
    assert proposer._explains_more_than_noise(known, x, ys, 2.0)
    # Declaring exactly the data's spread as noise is the same baseline as estimating it.
    spread = float(np.std(ys))
    assert proposer._explains_more_than_noise(known, x, ys, spread) == (
        proposer._explains_more_than_noise(known, x, ys, None)
    )


# --- regions, interactions, the judge -----------------------------------------------------------


def _peaked(p: Point) -> float:
    return 90 - 60 * ((float(p["temperature"]) - 75) / 45) ** 2


def test_a_peak_inside_the_range_gives_a_region_around_it(demo_spec: CampaignSpec) -> None:
    drafts = OfflineCoScientist(seed=7, per_round=5).propose(_context(demo_spec, 24, _peaked))
    regions = [d for d in drafts if d.kind == "region"]
    assert [d.prediction for d in regions] == [
        Optimum(objective="yield", variable="temperature", low=66.0, high=84.0)
    ]
    assert regions[0].statement == "the highest yield lies at temperature between 66 and 84 degC"


def _crossed(p: Point) -> float:
    t = (float(p["temperature"]) - 75) / 45
    r = (float(p["residence_time"]) - 1.25) / 0.75
    return 60 + 20 * t * r


def test_an_effect_that_depends_on_another_variable_gives_an_interaction(
    demo_spec: CampaignSpec,
) -> None:
    drafts = OfflineCoScientist(seed=7, per_round=5).propose(_context(demo_spec, 30, _crossed))
    pairs = [d.prediction for d in drafts if isinstance(d.prediction, Interaction)]
    assert pairs == [
        Interaction(objective="yield", variable="residence_time", moderator="temperature", sign=1)
    ]


def _hypothesis(hid: str, prediction: Trend) -> Hypothesis:
    return Hypothesis(
        id=hid,
        statement=hid,
        kind="effect",
        prediction=prediction,
        rationale="r",
        author=AUTHOR,
        registered_after=24,
    )


def test_as_a_judge_it_prefers_what_all_the_data_bear_out(demo_spec: CampaignSpec) -> None:
    context = _context(demo_spec, 24, _rising, noise=1.0)  # all before registration: still used
    rises = _hypothesis(
        "H01", Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)
    )
    falls = _hypothesis("H02", rises.prediction.model_copy(update={"sign": -1}))
    flat = _hypothesis(
        "H03", Trend(objective="yield", variable="equivalents", sign=1, low=1, high=5)
    )
    judge = OfflineCoScientist(seed=7)
    assert judge.compare(rises, falls, context) == 1.0
    assert judge.compare(falls, rises, context) == 0.0
    assert judge.compare(flat, flat, context) == 0.5


def test_the_review_states_verdicts_best_result_and_next_steps(demo_spec: CampaignSpec) -> None:
    context = _context(demo_spec, 6, _rising, noise=0.0)
    rises = _hypothesis(
        "H01", Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)
    ).model_copy(
        update={
            "status": HypothesisStatus.SUPPORTED,
            "credence": 0.99,
            "log10_bf": 2.0,
            "evidence_n": 12,
        }
    )
    falls = _hypothesis("H02", rises.prediction.model_copy(update={"sign": -1})).model_copy(
        update={"credence": 0.4, "evidence_n": 3}
    )
    context = ProposalContext(
        spec=demo_spec,
        experiments=context.experiments,
        observations=context.observations,
        hypotheses=(falls, rises),
    )
    best = max(context.observations, key=lambda e: context.observations[e].values["yield"])
    value = context.observations[best].values["yield"]
    review = OfflineCoScientist(seed=7).review(context)
    assert review.summary == (
        "2 hypotheses: 1 supported, 0 refuted, 1 open. H01 supported (H01; credence 0.99, "
        f"Bayes factor 10^+2.0 on 12 experiments). Best measured yield: {value:.4g} at {best}."
    )
    assert review.next_steps == (
        f"Replicate {best} to confirm its yield before scaling up.",
        "Test H02 further (H02): credence 0.40 after 3 experiments.",
    )


# --- evolution -----------------------------------------------------------------------------------


def _leader(hid: str, prediction: Trend, elo: float) -> Hypothesis:
    return _hypothesis(hid, prediction).model_copy(update={"elo": elo, "statement": f"s{hid}"})


def _with(context: ProposalContext, *hypotheses: Hypothesis) -> ProposalContext:
    return ProposalContext(
        spec=context.spec,
        experiments=context.experiments,
        observations=context.observations,
        hypotheses=hypotheses,
    )


def test_evolution_merges_a_rise_and_a_later_fall_into_a_region_between(
    demo_spec: CampaignSpec,
) -> None:
    rises = _leader(
        "H01", Trend(objective="yield", variable="temperature", sign=1, low=30, high=75), 1250
    )
    falls = _leader(
        "H02", Trend(objective="yield", variable="temperature", sign=-1, low=75, high=120), 1240
    )
    context = _with(_context(demo_spec, 24, _peaked), rises, falls)
    drafts = OfflineCoScientist(seed=7, per_round=0).propose(context)
    assert [d.prediction for d in drafts] == [
        Optimum(objective="yield", variable="temperature", low=66.0, high=84.0)
    ]
    assert drafts[0].kind == "region"
    assert drafts[0].rationale.startswith("Merges H01 and H02 (sH01; sH02). Partial dependence")


def test_evolution_does_not_merge_a_fall_followed_by_a_rise(demo_spec: CampaignSpec) -> None:
    falls = _leader(
        "H01", Trend(objective="yield", variable="temperature", sign=-1, low=30, high=75), 1250
    )
    rises = _leader(
        "H02", Trend(objective="yield", variable="temperature", sign=1, low=75, high=120), 1240
    )
    context = _with(_context(demo_spec, 24, _peaked), falls, rises)
    assert OfflineCoScientist(seed=7, per_round=0).propose(context) == []


def test_evolution_combines_two_leading_trends_into_their_interaction(
    demo_spec: CampaignSpec,
) -> None:
    hot = _leader(
        "H01", Trend(objective="yield", variable="temperature", sign=1, low=30, high=120), 1250
    )
    slow = _leader(
        "H02", Trend(objective="yield", variable="residence_time", sign=1, low=0.5, high=2), 1240
    )
    context = _with(_context(demo_spec, 30, _crossed), hot, slow)
    drafts = OfflineCoScientist(seed=7, per_round=0).propose(context)
    assert [d.prediction for d in drafts] == [
        Interaction(objective="yield", variable="residence_time", moderator="temperature", sign=1)
    ]
    assert drafts[0].rationale.startswith("Combines H01 (sH01) and H02 (sH02).")
    # one parent among the leaders is enough; with neither, there is no child
    assert OfflineCoScientist(seed=7, per_round=0, evolve_top=1).propose(context) == drafts
    top = _leader(
        "H09", Trend(objective="yield", variable="equivalents", sign=1, low=1, high=5), 1300
    )
    assert (
        OfflineCoScientist(seed=7, per_round=0, evolve_top=1).propose(
            _with(context, hot, slow, top)
        )
        == []
    )
    # a child the campaign already holds is not proposed again, and evolve=0 turns evolution off
    held = _hypothesis(
        "H03", Trend(objective="yield", variable="temperature", sign=1, low=30, high=120)
    )
    child = held.model_copy(update={"prediction": drafts[0].prediction, "kind": "interaction"})
    assert OfflineCoScientist(seed=7, per_round=0).propose(_with(context, hot, slow, child)) == []
    assert OfflineCoScientist(seed=7, per_round=0, evolve=0).propose(context) == []
