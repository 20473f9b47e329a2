from __future__ import annotations

import pytest

from cfl.campaign import Campaign, score
from cfl.errors import CFLError
from cfl.events import (
    CampaignCreated,
    CampaignFinished,
    Event,
    ExperimentDesigned,
    ExperimentFailed,
    ExperimentRequeued,
    ExperimentStarted,
    HypothesisAssessed,
    HypothesisProposed,
    ObservationRecorded,
    RoundCompleted,
    StepCompleted,
    StepDispatched,
    event_from_payload,
)
from cfl.journal import spec_hash
from cfl.models import (
    Experiment,
    ExperimentStatus,
    Hypothesis,
    HypothesisStatus,
    Observation,
    Trend,
)
from cfl.spec import CampaignSpec

POINT = {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.2, "temperature": 60.0}


def _created(spec: CampaignSpec) -> CampaignCreated:
    return CampaignCreated(lab_time_s=0, spec=spec, spec_hash=spec_hash(spec))


def _experiment(spec: CampaignSpec, index: int = 1) -> Experiment:
    return Experiment(
        id=f"E{index:04d}",
        index=index,
        round=1,
        params=POINT,
        protocol=spec.protocol,
        source="initial",
    )


def _observation(eid: str = "E0001", y: float = 80.0) -> Observation:
    return Observation(
        experiment=eid, values={"yield": y, "e_factor": 12.0}, device="hplc-1", lab_time_s=100.0
    )


def test_score_is_the_weighted_signed_sum(small_spec: CampaignSpec) -> None:
    # yield weight 1 (maximise), e_factor weight 0: score = yield
    assert score(small_spec, {"yield": 80.0, "e_factor": 12.0}) == 80.0
    two = small_spec.model_copy(
        update={
            "objectives": (
                small_spec.objectives[0],
                small_spec.objectives[1].model_copy(update={"weight": 2.0}),
            )
        }
    )
    assert score(two, {"yield": 80.0, "e_factor": 12.0}) == 80.0 - 2 * 12.0


def test_a_whole_life_folds_to_the_expected_state(small_spec: CampaignSpec) -> None:
    e = _experiment(small_spec)
    events: list[Event] = [
        _created(small_spec),
        ExperimentDesigned(lab_time_s=0, experiment=e),
        ExperimentStarted(lab_time_s=1, experiment=e.id, attempt=1, sample=e.sample),
        StepDispatched(
            lab_time_s=2,
            experiment=e.id,
            attempt=1,
            step=2,
            command="pick",
            role="robot",
            device="kapex-1",
            at="rack",
        ),
    ]
    campaign = Campaign.from_events("c-1", events)
    assert campaign.busy_devices == {"kapex-1": "E0001"}
    campaign.apply(
        StepCompleted(
            lab_time_s=30, experiment=e.id, attempt=1, step=2, device="kapex-1", duration_s=28
        )
    )
    assert campaign.busy_devices == {}
    campaign.apply(ObservationRecorded(lab_time_s=900, observation=_observation()))
    campaign.apply(RoundCompleted(lab_time_s=900, round=1, best_score=80.0))
    assert campaign.experiments["E0001"].status == ExperimentStatus.DONE
    assert campaign.best() == (campaign.experiments["E0001"], _observation())
    assert campaign.rounds_completed == 1 and campaign.current_round == 2
    assert campaign.lab_time_s == 900
    campaign.apply(CampaignFinished(lab_time_s=900, reason="budget", detail="done"))
    with pytest.raises(CFLError, match="is finished"):
        campaign.apply(RoundCompleted(lab_time_s=901, round=2, best_score=80.0))


def test_requeue_starts_a_new_attempt_with_a_fresh_sample(small_spec: CampaignSpec) -> None:
    e = _experiment(small_spec)
    campaign = Campaign.from_events(
        "c-1",
        [
            _created(small_spec),
            ExperimentDesigned(lab_time_s=0, experiment=e),
            ExperimentStarted(lab_time_s=1, experiment=e.id, attempt=1, sample=e.sample),
            ExperimentRequeued(lab_time_s=5, experiment=e.id, attempt=2, reason="crash"),
        ],
    )
    again = campaign.experiments["E0001"]
    assert (again.status, again.attempt, again.sample) == (ExperimentStatus.QUEUED, 2, "S-E0001-2")
    with pytest.raises(CFLError, match="on attempt 2, event is for 1"):
        campaign.apply(
            ExperimentStarted(lab_time_s=6, experiment=e.id, attempt=1, sample="S-E0001-1")
        )


@pytest.mark.parametrize(
    "bad",
    [
        ObservationRecorded(lab_time_s=1, observation=_observation()),  # not running
        ExperimentStarted(lab_time_s=1, experiment="E0009", attempt=1, sample="x"),  # unknown
        RoundCompleted(lab_time_s=1, round=2, best_score=None),  # out of order
        HypothesisAssessed(
            lab_time_s=1, hypothesis="H09", status=HypothesisStatus.OPEN, credence=0.5, evidence_n=0
        ),
    ],
)
def test_contradicting_events_are_refused_and_change_nothing(
    small_spec: CampaignSpec, bad: Event
) -> None:
    campaign = Campaign.from_events(
        "c-1",
        [
            _created(small_spec),
            ExperimentDesigned(lab_time_s=0, experiment=_experiment(small_spec)),
        ],
    )
    before = campaign.copy()
    with pytest.raises(CFLError):
        campaign.apply(bad)
    assert campaign.experiments == before.experiments
    assert campaign.rounds_completed == before.rounds_completed
    assert campaign.lab_time_s == before.lab_time_s


def test_second_observation_for_one_experiment_is_refused(small_spec: CampaignSpec) -> None:
    e = _experiment(small_spec)
    campaign = Campaign.from_events(
        "c-1",
        [
            _created(small_spec),
            ExperimentDesigned(lab_time_s=0, experiment=e),
            ExperimentStarted(lab_time_s=1, experiment=e.id, attempt=1, sample=e.sample),
            ObservationRecorded(lab_time_s=2, observation=_observation()),
        ],
    )
    with pytest.raises(CFLError, match="is done"):
        campaign.apply(ObservationRecorded(lab_time_s=3, observation=_observation(y=90)))


def test_an_observation_lacking_an_objective_is_refused(small_spec: CampaignSpec) -> None:
    e = _experiment(small_spec)
    campaign = Campaign.from_events(
        "c-1",
        [
            _created(small_spec),
            ExperimentDesigned(lab_time_s=0, experiment=e),
            ExperimentStarted(lab_time_s=1, experiment=e.id, attempt=1, sample=e.sample),
        ],
    )
    partial = Observation(experiment=e.id, values={"e_factor": 3.0}, device="hplc-1", lab_time_s=2)
    with pytest.raises(CFLError, match=r"lacks optimised objective\(s\) \['yield'\]"):
        campaign.apply(ObservationRecorded(lab_time_s=2, observation=partial))
    assert campaign.observations == {} and campaign.best() is None  # nothing changed
    # e_factor has weight 0: recorded, not optimised, so an observation may go without it
    campaign.apply(ObservationRecorded(lab_time_s=3, observation=_observation(y=70.0)))
    assert campaign.score_of(e.id) == 70.0


def test_failure_records_the_reason(small_spec: CampaignSpec) -> None:
    e = _experiment(small_spec)
    campaign = Campaign.from_events(
        "c-1",
        [
            _created(small_spec),
            ExperimentDesigned(lab_time_s=0, experiment=e),
            ExperimentStarted(lab_time_s=1, experiment=e.id, attempt=1, sample=e.sample),
            ExperimentFailed(
                lab_time_s=2,
                experiment=e.id,
                attempt=1,
                reason="grasp slipped",
                error="DeviceFault",
                device="kapex-1",
            ),
        ],
    )
    failed = campaign.experiments["E0001"]
    assert (failed.status, failed.failure) == (ExperimentStatus.FAILED, "grasp slipped")
    assert campaign.best() is None


def test_events_round_trip_through_their_payloads(small_spec: CampaignSpec) -> None:
    hypothesis = Hypothesis(
        id="H01",
        statement="yield rises with temperature over 30-60 degC",
        kind="effect",
        prediction=Trend(objective="yield", variable="temperature", sign=1, low=30, high=60),
        rationale="PD",
        author="human:ada",
        registered_after=4,
    )
    events: list[Event] = [
        _created(small_spec),
        HypothesisProposed(lab_time_s=3, hypothesis=hypothesis),
        ExperimentDesigned(lab_time_s=4, experiment=_experiment(small_spec)),
        ObservationRecorded(lab_time_s=5, observation=_observation()),
        CampaignFinished(lab_time_s=6, reason="target", detail="yield reached 95"),
    ]
    for event in events:
        assert event_from_payload(event.TYPE, event.model_dump(mode="json")) == event


def test_unknown_record_type_asks_for_an_upgrade() -> None:
    with pytest.raises(CFLError, match="written by a newer CFL"):
        event_from_payload("robot.danced", {})
