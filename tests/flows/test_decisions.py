"""A decision from the Prefect form becomes control requests (no server needed)."""

from __future__ import annotations

import threading
import time
from typing import Any

from cfl.control import ControlBoard
from cfl.journal import Journal
from cfl.models import ExperimentStatus
from cfl.runner import run_campaign
from cfl.spec import CampaignSpec
from cfl.store import Store


def test_edit_runs_the_chosen_experiments_and_rejects_the_rest_as_the_person(
    store: Store, small_spec: CampaignSpec
) -> None:
    from flows.campaign import ApprovalGate, BatchDecision

    data = small_spec.model_dump()
    spec = CampaignSpec.model_validate({**data, "approval": True, "budget": {"experiments": 4}})
    journal = Journal.create(store, spec, actor="human:ada")
    board = ControlBoard(store)
    gate = ApprovalGate(board, poll_s=0.05)
    outcome: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: outcome.update(
            final=run_campaign(journal, control=board, control_poll_s=0.05)
        )
    )
    runner.start()
    deadline = time.monotonic() + 60
    while True:
        state = Journal.open(store, journal.campaign.id).campaign
        proposed = [e.id for e in state.with_status(ExperimentStatus.PROPOSED)]
        if len(proposed) == 4:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    gate._file(state, proposed, BatchDecision(decision="approve", by="robot", note="x"))
    assert board.pending(state.id) == []  # not a person: nothing filed, the batch waits
    chosen = ["E0002", "E0004"]
    too_hot = BatchDecision(
        decision="edit", by="human:ada", experiments=chosen, changes={"E0004": {"temperature": 500}}
    )
    gate._file(state, proposed, too_hot)
    assert board.pending(state.id) == []  # one bad change: nothing of the decision is filed
    edit = BatchDecision(
        decision="edit", by="human:ada", experiments=chosen, changes={"E0004": {"temperature": 55}}
    )
    gate._file(state, proposed, edit)
    runner.join(timeout=60)
    final = outcome["final"]
    assert final.finished is not None
    statuses = {e.id: e.status for e in final.experiments.values()}
    assert statuses["E0002"] == statuses["E0004"] == ExperimentStatus.DONE
    assert statuses["E0001"] == statuses["E0003"] == ExperimentStatus.CANCELLED
    assert final.experiments["E0004"].params["temperature"] == 55.0
    assert final.experiments["E0004"].source == "human"
    decided = [(r.type, r.actor) for r in store.records(state.id) if "experiment." in r.type]
    assert ("experiment.approved", "human:ada") in decided
    assert ("experiment.rejected", "human:ada") in decided
    assert ("experiment.edited", "human:ada") in decided
