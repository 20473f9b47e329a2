"""Scale-out, end to end: Prefect and the CFL store on PostgreSQL, two workers on one pool.

Skipped when PostgreSQL cannot run here (the session's Prefect server is then on SQLite).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

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


def test_two_workers_run_a_deployed_campaign_approved_through_the_api(
    prefect_server: PrefectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if prefect_server.postgres is None:
        pytest.skip("PostgreSQL cannot run here; the scale-out test needs it")
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    from flows.deploy import deploy

    store_url = prefect_server.postgres.create_database()  # same cluster, its own database
    assert make_url(store_url).database != "prefect"
    monkeypatch.setenv("CFL_DATABASE_URL", store_url)
    spec_path = small_spec_path(
        tmp_path, name="snar-e2e", approval=True, budget={"experiments": 4}, batch_size=4
    )
    deploy(load_spec(spec_path), spec_path, stations=["e2e"], benchmark=False)
    with workers("e2e", prefect_server.env, 2, tmp_path) as pids:
        assert len(pids) == 2
        run = run_deployment("campaign/snar-e2e-e2e", parameters={"control_poll_s": 0.5}, timeout=0)
        paused = _wait_state(run.id, {"PAUSED"}, 90)  # the one batch of 4 waits
        assert paused.state.is_paused(), paused.state
        resume_flow_run(run.id, run_input={"decision": "approve", "by": "human:ada"})
        final = _wait_state(run.id, {"COMPLETED"}, 90)
    assert final.state.is_completed(), final.state
    store = Store.open(store_url)
    try:
        cid = store.campaigns()[0].id
        assert_exactly_once(store, cid, 4)
        actors = [r.actor for r in store.records(cid) if r.type == "experiment.approved"]
        assert actors == ["human:ada"]
    finally:
        store.close()
