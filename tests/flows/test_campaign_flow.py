"""The campaign flow against a local Prefect server, on the demo's simulated lab."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cfl.cli import app
from cfl.journal import Journal
from cfl.models import ExperimentStatus
from cfl.store import Store
from tests.conftest import demo_spec_data, write_spec
from tests.flows.conftest import PrefectServer


def small_spec_path(folder: Path, **changes: object) -> Path:
    data = demo_spec_data()
    data.update(name="snar-flow", budget={"experiments": 4}, initial_design=4, stop={})
    data.update(changes)
    return write_spec(folder, data)


def assert_exactly_once(store: Store, campaign_id: str, budget: int) -> None:
    campaign = Journal.open(store, campaign_id).campaign
    assert sorted(campaign.experiments) == [f"E{i:04d}" for i in range(1, budget + 1)]
    assert all(e.status == ExperimentStatus.DONE for e in campaign.experiments.values())
    assert sorted(campaign.observations) == sorted(campaign.experiments)
    result = CliRunner().invoke(app, ["ledger", "verify", campaign_id])
    assert result.exit_code == 0, result.output


def test_campaign_flow_runs_the_engine_with_subflows_tasks_and_artifacts(
    prefect_server: PrefectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter

    from flows.campaign import campaign
    from flows.limits import DeviceLease

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("CFL_DATABASE_URL", url)
    leases: Counter[str] = Counter()
    take = DeviceLease.take

    async def counted(device: str, **kwargs: Any) -> DeviceLease:
        leases[device] += 1
        return await take(device, **kwargs)

    monkeypatch.setattr(DeviceLease, "take", counted)
    state = campaign(spec_path=str(small_spec_path(tmp_path)), return_state=True)
    assert state.is_completed(), state
    summary = state.result()
    assert summary["done"] == 4 and summary["finished"] == "budget"
    store = Store.open(url)
    try:
        assert_exactly_once(store, summary["campaign"], 4)
    finally:
        store.close()
    # one lease per device reservation: the robot's pick and place share one (3 per experiment)
    assert sum(n for d, n in leases.items() if d.startswith("kapex")) == 4 * 3, leases
    assert sum(n for d, n in leases.items() if d.startswith("reactor")) == 4, leases
    assert sum(n for d, n in leases.items() if d.startswith("hplc")) == 4, leases
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
        keys = {a.key for a in artifacts if a.flow_run_id == run_id}
        assert any(k and k.endswith("-results") for k in keys), keys
        assert any(k and k.endswith("-convergence") for k in keys), keys
        for device in leases:  # every lease given back at the end
            limit = client.read_global_concurrency_limit_by_name(f"device:{device}")
            assert limit.active_slots == 0, (device, limit)
        # 8 device steps (not reserve/release) per experiment; the server records task runs in
        # batches, flushed at least every second (flows.localserver.SERVER_SETTINGS)
        deadline = time.monotonic() + 10
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id={"any_": [run_id]})
            )
            steps = [t for t in runs if t.task_key.startswith("step")]
            done = [t for t in steps if t.state is not None and t.state.is_completed()]
            if len(done) >= 4 * 8 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(steps) == len(done) == 4 * 8, (len(steps), len(done))
