"""Scale-out and crash safety, end to end: two workers on one pool, one SIGKILLed mid-step.

The killed run is then marked Crashed by the automation ``cfl deploy`` creates (its heartbeats
stopped), rather than staying Running.

Prefect and the CFL store are on PostgreSQL (one cluster, separate databases); where PostgreSQL
cannot run here, both fall back to SQLite. ``-m "not e2e"`` leaves the test out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from cfl.journal import Journal
from cfl.models import ExperimentStatus
from cfl.spec import load_spec
from cfl.store import Store
from tests.flows.conftest import PrefectServer
from tests.flows.test_campaign_flow import assert_exactly_once, small_spec_path

pytestmark = pytest.mark.e2e


def _wait_state(run_id: Any, wanted: set[str], timeout_s: float) -> Any:
    from prefect import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            if run.state is not None and (run.state.type.value in wanted or run.state.is_final()):
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run.state}"
            time.sleep(0.5)


@contextlib.contextmanager
def workers(station: str, env: dict[str, str], n: int, logs: Path) -> Iterator[list[int]]:
    """``n`` workers (`cfl worker STATION`), stopped by PID (their process groups) at the end."""
    processes = []
    try:
        for i in range(n):
            with (logs / f"worker-{i}.log").open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cfl", "worker", station],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def _kill_mid_step(store: Store, run_id: Any, pids: list[int]) -> list[str]:
    """SIGKILL the flow-run process and its worker once an experiment is half-way through."""
    from prefect import get_client

    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "no experiment got going"
        campaigns = store.campaigns()
        if campaigns:
            steps = Counter(
                r.payload.get("experiment")
                for r in store.records(campaigns[0].id)
                if r.type == "step.completed"
            )
            if any(n >= 3 for n in steps.values()):
                break
        time.sleep(0.05)
    with get_client(sync_client=True) as client:
        flow_pid = int(str(client.read_flow_run(run_id).infrastructure_pid).rsplit(":", 1)[-1])
    worker_pid = int(Path(f"/proc/{flow_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert worker_pid in pids, (worker_pid, pids)
    for pid in (flow_pid, worker_pid):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    campaign = Journal.open(store, campaigns[0].id).campaign
    assert campaign.finished is None
    return [e.id for e in campaign.with_status(ExperimentStatus.RUNNING)]


def test_two_workers_run_a_deployed_campaign_and_survive_one_killed_mid_step(
    prefect_server: PrefectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    from flows.deploy import deploy

    if prefect_server.postgres is not None:  # same cluster as Prefect's, a database of its own
        store_url = prefect_server.postgres.create_database()
        assert make_url(store_url).database != "prefect"
    else:
        store_url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("CFL_DATABASE_URL", store_url)
    spec_path = small_spec_path(
        tmp_path, name="snar-e2e", approval=True, budget={"experiments": 4}, batch_size=4
    )
    deploy(load_spec(spec_path), spec_path, stations=["e2e"], benchmark=False)
    store = Store.open(store_url)
    try:
        with workers("e2e", prefect_server.env, 2, tmp_path) as pids:
            first = run_deployment(
                "campaign/snar-e2e-e2e", parameters={"control_poll_s": 0.5}, timeout=0
            )
            paused = _wait_state(first.id, {"PAUSED"}, 90)  # the one batch of 4 waits
            assert paused.state.is_paused(), paused.state
            resume_flow_run(first.id, run_input={"decision": "approve", "by": "human:ada"})
            interrupted = _kill_mid_step(store, first.id, pids)
            assert interrupted
            # the retried run: the surviving worker picks it up and resumes the campaign
            second = run_deployment(
                "campaign/snar-e2e-e2e", parameters={"control_poll_s": 0.5}, timeout=0
            )
            # ~40 s when alone; 180 s because it once stayed Running past 90 s in a full, loaded
            # suite run (cause not found: see the issue 8 note)
            final = _wait_state(second.id, {"COMPLETED"}, 180)
            # the killed run sends no more heartbeats: cfl deploy's automation crashes it
            # within 90 s of its last one (often already done by now)
            dead = _wait_state(first.id, {"CRASHED"}, 240)
        assert final.state.is_completed(), final.state
        assert dead.state.is_crashed(), dead.state
        assert "No heartbeat for 90 s" in (dead.state.message or "")
        cid = store.campaigns()[0].id
        assert len(store.campaigns()) == 1  # resumed, not started again
        assert_exactly_once(store, cid, 4)
        records = store.records(cid)
        observed = Counter(
            r.payload["observation"]["experiment"]  # type: ignore[index]
            for r in records
            if r.type == "observation.recorded"
        )
        assert observed == Counter({f"E{i:04d}": 1 for i in range(1, 5)})  # none lost, none twice
        requeued = [r.payload["experiment"] for r in records if r.type == "experiment.requeued"]
        assert sorted(requeued) == sorted(interrupted)  # type: ignore[type-var]
        actors = [r.actor for r in records if r.type == "experiment.approved"]
        assert actors == ["human:ada"]
        leftovers = list((Path(os.environ["CFL_HOME"]) / "prefect-leases" / cid).glob("*"))
        assert leftovers == []  # the dead run's device slots were released
    finally:
        store.close()
