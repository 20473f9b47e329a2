"""Control requests: filed by people, checked against the campaign, settled once by the engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from cfl.control import AlreadySettled, ControlBoard, ExperimentDecision
from cfl.errors import NotFound, SpecError
from cfl.events import CampaignFinished, ExperimentDesigned, HypothesisProposed
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus, Hypothesis, Trend
from cfl.space import LinearConstraint
from cfl.spec import CampaignSpec, load_spec
from cfl.store import Store
from tests.conftest import demo_spec_data, write_spec

ALICE = "human:alice"
TREND_OK: dict[str, Any] = {
    "type": "trend",
    "objective": "yield",
    "variable": "equivalents",
    "sign": 1,
    "low": 1.5,
    "high": 4.0,
}


def make_campaign(store: Store, spec: CampaignSpec) -> str:
    """A campaign with E0001, E0002 proposed, E0003 queued and one hypothesis, H01."""
    journal = Journal.create(store, spec, actor="human:tester")
    point = spec.space.coerce(
        {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 80.0}
    )
    statuses = [ExperimentStatus.PROPOSED, ExperimentStatus.PROPOSED, ExperimentStatus.QUEUED]
    experiments = [
        Experiment(
            id=f"E{i:04d}",
            index=i,
            round=1,
            params=point,
            protocol=spec.protocol,
            source="planner",
            status=status,
        )
        for i, status in enumerate(statuses, start=1)
    ]
    hypothesis = Hypothesis(
        id="H01",
        statement="Yield rises with temperature",
        kind="effect",
        prediction=Trend(objective="yield", variable="temperature", sign=1, low=30, high=120),
        rationale="Arrhenius",
        author="agent:offline@0.1",
        registered_after=0,
    )
    journal.write("cfl", HypothesisProposed(lab_time_s=0, hypothesis=hypothesis))
    journal.write("cfl", *(ExperimentDesigned(lab_time_s=0, experiment=e) for e in experiments))
    return journal.campaign.id


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> CampaignSpec:
    """The small demo spec, loaded once: it is frozen, and loading it costs a quarter second."""
    data = demo_spec_data()
    data.update(name="snar-small", budget={"experiments": 8}, initial_design=4, stop={})
    return load_spec(write_spec(tmp_path_factory.mktemp("spec"), data))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    store = Store.open(url)
    yield store
    store.close()


def test_submit_pending_settle_round_trip(any_store: Store, spec: CampaignSpec) -> None:
    campaign = make_campaign(any_store, spec)
    board = ControlBoard(any_store)
    pause = board.submit(campaign, "pause", {"note": "checking the HPLC"}, by=ALICE)
    approve = board.submit(
        campaign, "approve", {"experiments": ["E0002", "E0001", "E0002"]}, by="human:bob"
    )

    assert pause.id < approve.id
    assert (
        pause.kind == "pause"
        and pause.by == ALICE
        and pause.payload == {"note": "checking the HPLC"}
    )
    assert approve.payload == {"experiments": ["E0002", "E0001"], "note": ""}  # duplicates dropped
    assert isinstance(approve.parsed(), ExperimentDecision)
    assert pause.created_at.tzinfo is UTC and not pause.settled
    assert [r.id for r in board.pending(campaign)] == [pause.id, approve.id]

    settled = board.settle(pause.id, outcome="applied", detail="paused at round 1")
    assert settled.outcome == "applied" and settled.detail == "paused at round 1"
    assert settled.settled_at is not None and settled.settled_at.tzinfo is UTC
    assert [r.id for r in board.pending(campaign)] == [approve.id]

    with pytest.raises(AlreadySettled, match=rf"#{pause.id} was already settled \(applied"):
        board.settle(pause.id, outcome="refused", detail="again")
    board.settle(approve.id, outcome="refused", detail="E0001 was cancelled meanwhile")

    history = ControlBoard(any_store).history(campaign)  # a second board: table already there
    assert [(r.id, r.outcome, r.detail) for r in history] == [
        (pause.id, "applied", "paused at round 1"),
        (approve.id, "refused", "E0001 was cancelled meanwhile"),
    ]
    assert board.pending(campaign) == []


def test_table_survives_reopening_the_store(tmp_path: Path, spec: CampaignSpec) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store.open(url)
    campaign = make_campaign(store, spec)
    request = ControlBoard(store).submit(campaign, "pause", None, by=ALICE)
    store.close()
    again = Store.open(url)
    try:
        assert ControlBoard(again).get(request.id) == request
    finally:
        again.close()


@pytest.mark.parametrize(
    ("kind", "payload", "field", "text"),
    [
        ("approve", {}, "payload.experiments", "payload.experiments: Field required"),
        ("approve", {"experiments": []}, "payload.experiments", "at least 1 item"),
        ("reject", {"experiments": ["E0001"], "colour": "red"}, "payload.colour", "colour"),
        ("pause", {"note": 3}, "payload.note", "payload.note: Input should be a valid string"),
        (
            "add_hypothesis",
            {"statement": "x", "kind": "effect", "prediction": {**TREND_OK, "sign": 2}},
            "payload.prediction.trend.sign",
            "sign",
        ),
        (
            "add_hypothesis",
            {"statement": "x", "kind": "effect"},
            "payload.prediction",
            "payload.prediction: Field required",
        ),
        ("restart", {}, "kind", "unknown control request kind 'restart'"),
    ],
)
def test_bad_payloads_name_the_field_and_store_nothing(
    store: Store,
    spec: CampaignSpec,
    kind: str,
    payload: dict[str, Any],
    field: str,
    text: str,
) -> None:
    campaign = make_campaign(store, spec)
    board = ControlBoard(store)
    with pytest.raises(SpecError) as caught:
        board.submit(campaign, kind, payload, by=ALICE)
    assert caught.value.field == field
    assert text in str(caught.value)
    assert board.history(campaign) == []


@pytest.mark.parametrize("by", ["agent:copilot@0.1", "alice", "human:", "human:al ice", "cfl"])
def test_only_people_file_requests(store: Store, spec: CampaignSpec, by: str) -> None:
    campaign = make_campaign(store, spec)
    board = ControlBoard(store)
    with pytest.raises(SpecError, match="human:<name>") as caught:
        board.submit(campaign, "pause", {}, by=by)
    assert caught.value.field == "by"
    assert board.history(campaign) == []


def test_unknown_and_finished_campaigns_are_refused(store: Store, spec: CampaignSpec) -> None:
    campaign = make_campaign(store, spec)
    board = ControlBoard(store)
    with pytest.raises(NotFound, match=rf"no campaign 'nope-1'; known campaigns: \['{campaign}'\]"):
        board.submit("nope-1", "pause", {}, by=ALICE)

    journal = Journal.open(store, campaign)
    journal.write("cfl", CampaignFinished(lab_time_s=1, reason="budget", detail="all done"))
    with pytest.raises(SpecError, match=r"is finished \(all done\).*cfl run SPEC --new") as caught:
        board.submit(campaign, "resume", {}, by=ALICE)
    assert caught.value.field == "campaign"
    assert board.history(campaign) == []


def test_decisions_only_on_proposed_experiments(store: Store, spec: CampaignSpec) -> None:
    campaign = make_campaign(store, spec)
    board = ControlBoard(store)
    with pytest.raises(SpecError, match=r"no experiment 'E0099'.*\['E0001', 'E0002'\]") as caught:
        board.submit(campaign, "approve", {"experiments": ["E0001", "E0099"]}, by=ALICE)
    assert caught.value.field == "payload.experiments[1]"
    with pytest.raises(SpecError, match="E0003 is queued; only proposed experiments"):
        board.submit(campaign, "reject", {"experiments": ["E0003"]}, by=ALICE)
    assert board.history(campaign) == []

    decision = {"experiments": ["E0001"], "note": "too hot"}
    first = board.submit(campaign, "reject", decision, by=ALICE)
    with pytest.raises(SpecError, match=rf"pending reject request \(#{first.id} by human:alice\)"):
        board.submit(campaign, "approve", {"experiments": ["E0001"]}, by="human:bob")
    assert len(board.history(campaign)) == 1


def test_hypotheses_are_checked_against_the_space(store: Store, spec: CampaignSpec) -> None:
    campaign = make_campaign(store, spec)
    board = ControlBoard(store)
    outside = {
        "statement": "Yield rises with temperature up to 200 degC",
        "kind": "effect",
        "prediction": {**TREND_OK, "variable": "temperature", "low": 100, "high": 200},
    }
    with pytest.raises(SpecError, match=r"inside its bounds \[30, 120\]") as caught:
        board.submit(campaign, "add_hypothesis", outside, by=ALICE)
    assert caught.value.field == "prediction.low"
    with pytest.raises(SpecError, match="unknown objective 'purity'"):
        bad = {**outside, "prediction": {**TREND_OK, "objective": "purity"}}
        board.submit(campaign, "add_hypothesis", bad, by=ALICE)
    h01_again = {**TREND_OK, "variable": "temperature", "low": 40, "high": 110}
    same_as_h01 = {**outside, "prediction": h01_again}
    with pytest.raises(SpecError, match="hypothesis H01 already makes this prediction"):
        board.submit(campaign, "add_hypothesis", same_as_h01, by=ALICE)
    assert board.history(campaign) == []

    good = {"statement": "More amine helps", "kind": "effect", "prediction": TREND_OK}
    request = board.submit(campaign, "add_hypothesis", good, by=ALICE)
    draft = request.draft()
    assert draft.author == ALICE  # the requester, whatever the payload says
    assert draft.prediction == Trend(**TREND_OK)
    assert request.payload["rationale"] == ""
    with pytest.raises(SpecError, match=rf"request #{request.id} by human:alice already adds"):
        board.submit(campaign, "add_hypothesis", good, by="human:bob")
    with pytest.raises(SpecError, match="author"):  # the author is the requester, not the payload
        board.submit(campaign, "add_hypothesis", {**good, "author": "human:root"}, by=ALICE)


def test_pause_and_resume_follow_the_pending_state(store: Store, spec: CampaignSpec) -> None:
    campaign = make_campaign(store, spec)
    board = ControlBoard(store)
    with pytest.raises(SpecError, match="not paused and no pause is pending"):
        board.submit(campaign, "resume", {}, by=ALICE)
    board.submit(campaign, "pause", {}, by=ALICE)
    with pytest.raises(SpecError, match="already paused"):
        board.submit(campaign, "pause", {}, by="human:bob")
    board.submit(campaign, "resume", {"note": "HPLC fixed"}, by="human:bob")
    assert [r.kind for r in board.pending(campaign)] == ["pause", "resume"]


def test_settle_checks_outcome_and_id(store: Store, spec: CampaignSpec) -> None:
    campaign = make_campaign(store, spec)
    board = ControlBoard(store)
    request = board.submit(campaign, "pause", {}, by=ALICE)
    with pytest.raises(SpecError, match=r"outcome must be one of \['applied', 'refused'\]"):
        board.settle(request.id, outcome="done")
    with pytest.raises(NotFound, match="no control request #999"):
        board.settle(999, outcome="applied")
    assert not board.get(request.id).settled


def test_edits_stay_inside_the_bounds_and_the_linear_constraints(
    store: Store, spec: CampaignSpec
) -> None:
    # at most 100 = temperature + 10 * equivalents: the proposed point (80, 2) is on the limit
    limit = LinearConstraint(coefficients={"temperature": 1.0, "equivalents": 10.0}, upper=100.0)
    limited = spec.model_copy(
        update={"space": spec.space.model_copy(update={"constraints": (limit,)})}
    )
    campaign = make_campaign(store, limited)
    board = ControlBoard(store)
    with pytest.raises(SpecError, match=r"10\*equivalents \+ 1\*temperature <= 100 \(it is 110\)"):
        board.submit(
            campaign, "edit", {"experiment": "E0001", "params": {"temperature": 90}}, by=ALICE
        )
    with pytest.raises(SpecError, match="E0003 is queued; only proposed experiments can be edited"):
        board.submit(
            campaign, "edit", {"experiment": "E0003", "params": {"temperature": 50}}, by=ALICE
        )
    with pytest.raises(SpecError, match="unknown parameters \\['pressure'\\]") as caught:
        board.submit(campaign, "edit", {"experiment": "E0001", "params": {"pressure": 2}}, by=ALICE)
    assert caught.value.field == "payload.params"
    assert board.history(campaign) == []
    filed = board.submit(
        campaign, "edit", {"experiment": "E0001", "params": {"temperature": 60}}, by=ALICE
    )
    assert filed.payload == {"experiment": "E0001", "params": {"temperature": 60}, "note": ""}
