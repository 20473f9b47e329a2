"""Crash safety: a campaign flow run killed mid-step (SIGKILL) is resumed by the next run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cfl.errors import CFLError
from cfl.journal import Journal
from cfl.models import ExperimentStatus
from cfl.store import Store
from tests.flows.conftest import PrefectServer
from tests.flows.test_campaign_flow import assert_exactly_once, small_spec_path

pytestmark = pytest.mark.e2e


def test_a_run_killed_mid_step_is_resumed_without_losing_or_repeating_an_experiment(
    prefect_server: PrefectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.campaign import campaign

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("CFL_DATABASE_URL", url)
    spec_path = small_spec_path(tmp_path, name="snar-crash")
    code = f"from flows.campaign import campaign; campaign(spec_path={str(spec_path)!r})"
    victim = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**prefect_server.env, "CFL_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    store = Store.open(url)
    try:
        deadline = time.monotonic() + 60
        while True:  # kill it once an experiment is half-way through its protocol
            assert victim.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no experiment got going"
            with contextlib.suppress(CFLError, IndexError):
                cid = store.campaigns()[0].id
                records = store.records(cid)
                steps = Counter(
                    r.payload.get("experiment") for r in records if r.type == "step.completed"
                )
                if any(n >= 3 for n in steps.values()):
                    break
            time.sleep(0.05)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        killed = Journal.open(store, cid).campaign
        assert killed.finished is None
        interrupted = [e.id for e in killed.with_status(ExperimentStatus.RUNNING)]
        assert interrupted

        state = campaign(spec_path=str(spec_path), return_state=True)  # the retried run
        assert state.is_completed(), state
        assert state.result()["campaign"] == cid  # resumed, not started again
        assert_exactly_once(store, cid, 4)
        records = store.records(cid)
        observed = Counter(
            r.payload["observation"]["experiment"]
            for r in records
            if r.type == "observation.recorded"
        )
        assert observed == Counter({f"E{i:04d}": 1 for i in range(1, 5)})  # none lost, none twice
        requeued = [r.payload["experiment"] for r in records if r.type == "experiment.requeued"]
        assert sorted(requeued) == sorted(interrupted)
        leftovers = list((Path(os.environ["CFL_HOME"]) / "prefect-leases" / cid).glob("*"))
        assert leftovers == []  # the dead run's device slots were released
    finally:
        store.close()
        if victim.poll() is None:
            os.killpg(victim.pid, signal.SIGKILL)
