"""What the runner and engine ask of a planner beyond suggest/ingest: warm start, convergence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cfl.campaign import score
from cfl.errors import SpecError
from cfl.gp_planner import CflGpPlanner
from cfl.journal import Journal
from cfl.planner import Converges, WarmStarts, evaluation_of
from cfl.runner import open_or_create, prior_evaluations, run_campaign
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from tests.cfl.test_engine import GOOD, POOR, ScriptedPlanner, _engine_run, _spec
from tests.conftest import demo_spec_data, write_spec


class ConvergingPlanner(ScriptedPlanner):
    """Says it has converged once it has seen ``after`` results."""

    def __init__(self, batches: list[list[dict[str, float | int | str]]], after: int) -> None:
        super().__init__(batches)
        self.after = after

    def stop_reason(self) -> str | None:
        return "nothing left to gain" if len(self.ingested) >= self.after else None


def test_a_converged_planner_ends_the_campaign_when_the_spec_asks(
    tmp_path: Path, store: Store
) -> None:
    spec = _spec(tmp_path, batch_size=1, stop={"converged": True})
    planner = ConvergingPlanner([[GOOD], [POOR], [GOOD], [POOR]], after=3)
    assert isinstance(planner, Converges)
    campaign = _engine_run(spec, store, planner)
    assert campaign.finished is not None and campaign.finished.reason == "converged"
    assert campaign.finished.detail == "cfl-gp: nothing left to gain"
    assert campaign.designed == 3


def test_without_the_spec_asking_a_converged_planner_runs_on(tmp_path: Path, store: Store) -> None:
    spec = _spec(tmp_path, batch_size=1, budget={"experiments": 4})
    campaign = _engine_run(spec, store, ConvergingPlanner([[GOOD]] * 4, after=1))
    assert campaign.finished is not None and campaign.finished.reason == "budget"


def test_stop_converged_needs_a_planner_that_can_tell(tmp_path: Path, store: Store) -> None:
    data = demo_spec_data()
    data.update(stop={"converged": True}, planner="skopt-gp")
    spec = load_spec(write_spec(tmp_path, data))
    with pytest.raises(SpecError, match="cannot tell when it has converged") as caught:
        run_campaign(open_or_create(store, spec).journal)
    assert caught.value.field == "stop.converged"


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str]]:
    """A store holding one finished 8-experiment demo campaign, and that campaign's id."""
    folder = tmp_path_factory.mktemp("shelf")
    data = demo_spec_data()
    data.update(name="snar-small", budget={"experiments": 8}, initial_design=4, stop={})
    store = Store.open(f"sqlite:///{folder / 'store.db'}")
    spec = load_spec(write_spec(folder, data))
    yield store, run_campaign(open_or_create(store, spec).journal).id
    store.close()


def _follow_up(tmp_path: Path, **changes: object) -> CampaignSpec:
    data = demo_spec_data()
    data.update(name="snar-follow-up", planner="cfl-gp", budget={"experiments": 8}, stop={})
    data.update(changes)
    folder = tmp_path / "follow-up"
    folder.mkdir(exist_ok=True)
    return load_spec(write_spec(folder, data))


def test_warm_start_reads_the_earlier_campaigns_results_scored_by_this_spec(
    tmp_path: Path, shelf: tuple[Store, str]
) -> None:
    store, earlier = shelf
    spec = _follow_up(tmp_path, warm_start=[earlier])
    campaign = Journal.open(store, earlier).campaign
    expected = sorted(
        (score(spec, o.values), sorted(campaign.experiments[eid].params.items()))
        for eid, o in campaign.observations.items()
    )
    prior = prior_evaluations(store, spec)
    assert len(prior) == 8
    assert sorted((e.score, sorted(e.params.items())) for e in prior) == expected


def test_warm_start_rejects_unknown_and_mismatched_campaigns(
    tmp_path: Path, shelf: tuple[Store, str]
) -> None:
    store, earlier = shelf
    with pytest.raises(SpecError, match="'nope-1', which is not a campaign") as caught:
        prior_evaluations(store, _follow_up(tmp_path, warm_start=["nope-1"]))
    assert caught.value.field == "warm_start"
    parameters = demo_spec_data()["space"]["parameters"]
    wider = [*parameters, {"type": "continuous", "name": "stirring", "low": 0, "high": 1}]
    other = _follow_up(tmp_path, warm_start=[earlier], space={"parameters": wider})
    with pytest.raises(SpecError, match="only campaigns on the same parameters"):
        prior_evaluations(store, other)


def test_warm_start_feeds_a_planner_that_can_and_refuses_one_that_cannot(
    tmp_path: Path, shelf: tuple[Store, str]
) -> None:
    store, earlier = shelf
    spec = _follow_up(tmp_path, warm_start=[earlier])
    planner = CflGpPlanner.from_spec(spec)
    assert isinstance(planner, WarmStarts)
    prior = prior_evaluations(store, spec)
    planner.warm_start(prior)
    # the initial design is this campaign's own; prior results never come back as suggestions
    first = planner.suggest(spec.initial_design, [])
    assert len(first) == spec.initial_design
    assert not {tuple(p.values()) for p in first} & {tuple(e.params.values()) for e in prior}
    assert planner.best() is None  # nothing of this campaign measured yet
    skopt = _follow_up(tmp_path, warm_start=[earlier], planner="skopt-gp")
    with pytest.raises(SpecError, match="cannot learn from earlier campaigns"):
        run_campaign(open_or_create(store, skopt).journal)


def test_planning_for_the_front_gives_the_planner_each_objective_higher_is_better(
    tmp_path: Path, store: Store
) -> None:
    data = demo_spec_data()
    data["objectives"][1].update(weight=2.0)  # e_factor, minimised
    data.update(plan_for="front")
    spec = load_spec(write_spec(tmp_path, data))
    evaluation = evaluation_of(spec, GOOD, {"yield": 80.0, "e_factor": 3.0})
    assert evaluation.objectives == {"yield": 80.0, "e_factor": -3.0}
    assert evaluation.score == 80.0 - 2.0 * 3.0  # the weighted score is still there
    assert evaluation_of(_spec(tmp_path), GOOD, {"yield": 80.0, "e_factor": 3.0}).objectives == {}
    # the engine feeds the planner those evaluations
    spec = _spec(tmp_path, plan_for="front", objectives=data["objectives"], batch_size=1)
    planner = ScriptedPlanner([[GOOD], [POOR]])
    campaign = _engine_run(spec, store, planner)
    assert [set(e.objectives) for e in planner.ingested] == [{"yield", "e_factor"}] * 2
    for evaluation, observation in zip(
        planner.ingested, campaign.observations.values(), strict=True
    ):
        assert evaluation.objectives["e_factor"] == -observation.values["e_factor"]


def test_warm_start_for_the_front_carries_each_objective(
    tmp_path: Path, shelf: tuple[Store, str]
) -> None:
    store, earlier = shelf
    objectives = demo_spec_data()["objectives"]
    objectives[1].update(weight=1.0)
    spec = _follow_up(tmp_path, warm_start=[earlier], plan_for="front", objectives=objectives)
    campaign = Journal.open(store, earlier).campaign
    expected = sorted(
        (o.values["yield"], -o.values["e_factor"]) for o in campaign.observations.values()
    )
    prior = prior_evaluations(store, spec)
    assert sorted((e.objectives["yield"], e.objectives["e_factor"]) for e in prior) == expected
    planner = CflGpPlanner.from_spec(spec)
    planner.warm_start(prior)
    assert len(planner.suggest(2, [])) == 2
