"""approval: true: the campaign run pauses for each batch; decisions from Prefect or the board."""

from __future__ import annotations

import contextvars
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cfl.control import ControlBoard
from cfl.journal import Journal
from cfl.models import ExperimentStatus
from cfl.store import Store
from tests.flows.conftest import PrefectServer
from tests.flows.test_campaign_flow import assert_exactly_once, small_spec_path


def _paused_run(name: str, runner: threading.Thread, timeout_s: float = 60) -> Any:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline and runner.is_alive():
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    name=FlowRunFilterName(any_=[name]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
                )
            )
            if runs:
                return runs[0]
            time.sleep(0.3)
    raise AssertionError(f"no paused run {name} in {timeout_s} s")


def test_a_batch_is_approved_through_the_prefect_api_and_another_with_the_board(
    prefect_server: PrefectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.flow_runs import resume_flow_run

    from flows.campaign import campaign

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("CFL_DATABASE_URL", url)
    spec_path = small_spec_path(
        tmp_path, name="snar-approve", approval=True, budget={"experiments": 4}, batch_size=2
    )
    outcome: dict[str, Any] = {}
    runner = threading.Thread(  # with this context: its Prefect settings name the server
        target=contextvars.copy_context().run,
        args=(
            lambda: outcome.update(
                state=campaign(spec_path=str(spec_path), control_poll_s=0.3, return_state=True)
            ),
        ),
    )
    runner.start()
    try:
        # batch 1 (E0001, E0002): approved from the Prefect API, as the UI's form does
        first = _paused_run(str(spec_path), runner)
        resume_flow_run(first.id, run_input={"decision": "approve", "by": "human:ada"})
        # batch 2 (E0003, E0004): `cfl approve` files a request; the paused run resumes itself
        store = Store.open(url)
        board = ControlBoard(store)
        deadline = time.monotonic() + 60
        while True:
            cid = store.campaigns()[0].id
            proposed = [
                e.id
                for e in Journal.open(store, cid).campaign.with_status(ExperimentStatus.PROPOSED)
            ]
            if proposed == ["E0003", "E0004"]:
                break
            assert time.monotonic() < deadline, proposed
            time.sleep(0.2)
        _paused_run(str(spec_path), runner)
        board.submit(cid, "approve", {"experiments": proposed}, by="human:bob")
    finally:
        runner.join(timeout=120)
    state = outcome["state"]
    assert state.is_completed(), state
    try:
        assert_exactly_once(store, cid, 4)
        approvals = [
            (r.actor, r.payload["experiments"])
            for r in store.records(cid)
            if r.type == "experiment.approved"
        ]
        assert approvals == [("human:ada", ["E0001", "E0002"]), ("human:bob", ["E0003", "E0004"])]
    finally:
        store.close()
