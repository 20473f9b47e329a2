"""The engine applies control requests at its next step, as the person who filed them."""

from __future__ import annotations

import threading
import time

import pytest

from cfl.control import ControlBoard
from cfl.errors import SpecError
from cfl.events import ExperimentDesigned
from cfl.journal import Journal
from cfl.models import Experiment, ExperimentStatus
from cfl.runner import run_campaign
from cfl.spec import CampaignSpec
from cfl.store import Store

ALICE = "human:alice"
TREND = {
    "type": "trend",
    "objective": "yield",
    "variable": "equivalents",
    "sign": 1,
    "low": 1.5,
    "high": 4.0,
}


def _actors(store: Store, campaign: str, record_type: str) -> list[str]:
    return [r.actor for r in store.records(campaign) if r.type == record_type]


def test_hypotheses_and_decisions_are_applied_as_the_requester(
    store: Store, small_spec: CampaignSpec
) -> None:
    journal = Journal.create(store, small_spec, actor=ALICE)
    point = small_spec.space.coerce(
        {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 80.0}
    )
    proposed = [
        Experiment(
            id=f"E{i:04d}",
            index=i,
            round=1,
            params=point,
            protocol=small_spec.protocol,
            source="planner",
            status=ExperimentStatus.PROPOSED,
        )
        for i in (1, 2)
    ]
    journal.write("cfl", *(ExperimentDesigned(lab_time_s=0, experiment=e) for e in proposed))
    board = ControlBoard(store)
    add = board.submit(
        journal.campaign.id,
        "add_hypothesis",
        {"statement": "More amine helps", "kind": "effect", "prediction": TREND},
        by=ALICE,
    )
    approve = board.submit(journal.campaign.id, "approve", {"experiments": ["E0001"]}, by=ALICE)
    reject = board.submit(
        journal.campaign.id,
        "reject",
        {"experiments": ["E0002"], "note": "duplicate"},
        by="human:bob",
    )

    final = run_campaign(journal, control=board, control_poll_s=0.05)

    assert final.finished is not None
    assert final.experiments["E0001"].status == ExperimentStatus.DONE
    assert final.experiments["E0002"].status == ExperimentStatus.CANCELLED
    assert final.experiments["E0002"].failure == "rejected by human:bob: duplicate"
    h01 = final.hypotheses["H01"]
    assert h01.author == ALICE and h01.registered_after == 2
    settled = {r.id: (r.outcome, r.detail) for r in board.history(final.id)}
    assert settled[add.id] == (
        "applied",
        "registered as H01; judged on experiments designed from now on",
    )
    assert settled[approve.id] == ("applied", "approved E0001")
    assert settled[reject.id] == ("applied", "rejected E0002")
    assert _actors(store, final.id, "experiment.approved") == [ALICE]
    assert _actors(store, final.id, "experiment.rejected") == ["human:bob"]
    assert ALICE in _actors(store, final.id, "hypothesis.proposed")
    assert final.requests_applied == {add.id, approve.id, reject.id}


def test_pause_holds_the_run_until_resume(store: Store, small_spec: CampaignSpec) -> None:
    journal = Journal.create(store, small_spec, actor=ALICE)
    board = ControlBoard(store)
    pause = board.submit(journal.campaign.id, "pause", {"note": "HPLC check"}, by=ALICE)

    def resume_when_paused() -> None:
        deadline = time.monotonic() + 30
        while board.get(pause.id).outcome is None and time.monotonic() < deadline:
            time.sleep(0.02)
        board.submit(journal.campaign.id, "resume", {}, by="human:bob")

    helper = threading.Thread(target=resume_when_paused)
    helper.start()
    final = run_campaign(journal, control=board, control_poll_s=0.05)
    helper.join()

    assert final.finished is not None and final.paused is None
    types = [r.type for r in store.records(final.id)]
    paused_at, resumed_at = types.index("campaign.paused"), types.index("campaign.resumed")
    assert paused_at < resumed_at < types.index("experiment.designed")  # nothing ran while paused
    assert _actors(store, final.id, "campaign.paused") == [ALICE]
    assert _actors(store, final.id, "campaign.resumed") == ["human:bob"]
    assert [r.outcome for r in board.history(final.id)] == ["applied", "applied"]


def test_a_request_the_campaign_can_no_longer_take_is_refused(
    store: Store, small_spec: CampaignSpec
) -> None:
    journal = Journal.create(store, small_spec, actor=ALICE)
    board = ControlBoard(store)
    first = board.submit(
        journal.campaign.id,
        "add_hypothesis",
        {"statement": "a", "kind": "effect", "prediction": TREND},
        by=ALICE,
    )
    # filed twice by racing clients: the second passes submit's check, the engine refuses it
    second = board.submit(journal.campaign.id, "pause", {}, by=ALICE)
    board.settle(second.id, outcome="refused", detail="withdrawn")  # settled: never applied
    final = run_campaign(journal, control=board, control_poll_s=0.05)
    outcomes = {r.id: r.outcome for r in board.history(final.id)}
    assert outcomes == {first.id: "applied", second.id: "refused"}
    assert final.paused is None


def test_with_approval_each_batch_waits_for_a_person(
    store: Store, small_spec: CampaignSpec
) -> None:
    spec = small_spec.model_copy(update={"approval": True})
    journal = Journal.create(store, spec, actor=ALICE)
    board = ControlBoard(store)
    outcome: dict[str, object] = {}
    runner = threading.Thread(
        target=lambda: outcome.update(
            final=run_campaign(journal, control=board, control_poll_s=0.05)
        )
    )
    runner.start()
    decided: list[list[str]] = []
    deadline = time.monotonic() + 120
    while runner.is_alive() and time.monotonic() < deadline:
        waiting = [
            e.id
            for e in Journal.open(store, journal.campaign.id).campaign.with_status(
                ExperimentStatus.PROPOSED
            )
        ]
        undecided = [eid for eid in waiting if not any(eid in d for d in decided)]
        if undecided:
            kind = "reject" if not decided else "approve"  # reject the first batch's first one
            chosen = undecided[:1] if kind == "reject" else undecided
            board.submit(journal.campaign.id, kind, {"experiments": chosen}, by=ALICE)
            decided.append(chosen)
        time.sleep(0.05)
    runner.join(timeout=5)
    final = outcome["final"]
    assert isinstance(final, type(journal.campaign)) and final.finished is not None
    # nothing ran before a person said so: every experiment was decided on, one was rejected
    assert sorted(e for d in decided for e in d) == sorted(final.experiments)
    assert final.experiments[decided[0][0]].status == ExperimentStatus.CANCELLED
    assert len(final.observations) == len(final.experiments) - 1
    assert set(_actors(store, final.id, "experiment.approved")) == {ALICE}


def test_an_edited_experiment_runs_at_the_persons_conditions(
    store: Store, small_spec: CampaignSpec
) -> None:
    journal = Journal.create(store, small_spec, actor=ALICE)
    point = small_spec.space.coerce(
        {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.3, "temperature": 80.0}
    )
    proposed = Experiment(
        id="E0001",
        index=1,
        round=1,
        params=point,
        protocol=small_spec.protocol,
        source="planner",
        status=ExperimentStatus.PROPOSED,
    )
    journal.write("cfl", ExperimentDesigned(lab_time_s=0, experiment=proposed))
    board = ControlBoard(store)
    with pytest.raises(SpecError, match=r"temperature=150.0 is outside \[30.0, 120.0\]"):
        board.submit(
            journal.campaign.id, "edit", {"experiment": "E0001", "params": {"temperature": 150}},
            by=ALICE,
        )  # fmt: skip
    edit = board.submit(
        journal.campaign.id,
        "edit",
        {"experiment": "E0001", "params": {"temperature": 60}, "note": "too hot for the seal"},
        by=ALICE,
    )
    with pytest.raises(SpecError, match="already has a pending edit request"):
        board.submit(journal.campaign.id, "approve", {"experiments": ["E0001"]}, by="human:bob")

    final = run_campaign(journal, control=board, control_poll_s=0.05)

    ran = final.experiments["E0001"]
    assert ran.status == ExperimentStatus.DONE and ran.source == "human"
    assert ran.params == {**point, "temperature": 60.0}
    assert {r.id: r.detail for r in board.history(final.id)}[edit.id] == (
        "E0001 queued with temperature=60.0"
    )
    (record,) = [r for r in store.records(final.id) if r.type == "experiment.edited"]
    assert record.actor == ALICE and record.payload["note"] == "too hot for the seal"
    designed = next(r for r in store.records(final.id) if r.type == "experiment.designed")
    assert designed.payload["experiment"]["params"]["temperature"] == 80.0  # the design is kept
    assert record.supersedes == (designed.id,)  # and the edit is the latest word on it
