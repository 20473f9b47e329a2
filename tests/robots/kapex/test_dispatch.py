"""KAPEX under CFL's dispatcher: a slip is retried by CFL; an e-stop is never retried.

The demo lab with its ``kapex`` robot, one experiment, run by :class:`cfl.dispatcher.Dispatcher`
exactly as a campaign runs it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cfl.clock import LabClock, run_on_clock
from cfl.dispatcher import Dispatcher
from cfl.events import ExperimentDesigned
from cfl.journal import Journal
from cfl.lab import Lab
from cfl.models import Experiment, ExperimentStatus
from cfl.pool import DevicePool
from cfl.spec import load_spec
from cfl.store import Store
from robots.contract import StopLevel
from robots.kapex.driver import KapexDriver
from tests.conftest import demo_spec_data, write_spec

POINT = {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.2, "temperature": 60.0}
SAMPLE = "S-E0001-1"


def _run(
    tmp_path: Path, store: Store, estop_at_s: float | None = None, **robot: Any
) -> tuple[Journal, Lab]:
    data = demo_spec_data()
    data["lab"]["devices"]["kapex-1"]["options"].update(robot)
    spec = load_spec(write_spec(tmp_path, data))
    experiment = Experiment(
        id="E0001", index=1, round=1, params=POINT, protocol=spec.protocol, source="initial"
    )
    journal = Journal.create(store, spec, actor="human:ada")
    journal.write("planner:test", ExperimentDesigned(lab_time_s=0, experiment=experiment))
    clock = LabClock()
    built: list[Lab] = []

    async def main() -> None:
        lab = Lab.build(spec.lab, clock=clock, seed=spec.seed)
        built.append(lab)
        robot = lab.devices["kapex-1"]
        assert isinstance(robot, KapexDriver)
        dispatcher = Dispatcher(
            devices=lab.devices,
            pool=DevicePool(spec.lab.roles),
            journal=journal,
            clock=clock,
            lab=spec.lab,
            objectives=("yield", "e_factor"),
        )

        async def press_estop() -> None:
            assert estop_at_s is not None
            await clock.sleep(estop_at_s)
            await robot.client.estop(StopLevel.CUT, "person in the aisle", by="human:lee")

        try:
            jobs = [dispatcher.run(experiment)]
            if estop_at_s is not None:
                jobs.append(press_estop())
            await asyncio.gather(*jobs)
        finally:
            await robot.close()

    run_on_clock(main, clock=clock, kind="virtual")
    return journal, built[0]


def _steps(store: Store, journal: Journal) -> list[tuple[str, Any, Any, Any]]:
    return [
        (r.type, r.payload.get("command") or r.payload.get("error"), r.payload.get("step"),
         r.payload.get("retry_in_s"))
        for r in store.records(journal.campaign.id)
        if r.type in ("step.dispatched", "step.failed")
    ]


def test_a_seeded_slip_is_retried_by_cfl_after_its_back_off_and_then_holds(
    tmp_path: Path, store: Store
) -> None:
    # with the demo's seed the first grasp of S-E0001-1 draws 0.39 and every later one > 0.45
    journal, lab = _run(tmp_path, store, grasp_failure_rate=0.45)
    campaign = journal.campaign
    assert campaign.experiments["E0001"].status is ExperimentStatus.DONE
    steps = _steps(store, journal)
    assert steps[:3] == [
        ("step.dispatched", "pick", 2, None),  # steps 0 and 1 reserve the reactor and the robot
        ("step.failed", "DeviceFault", 2, 30.0),  # retryable: CFL's back-off, then again
        ("step.dispatched", "pick", 2, None),
    ]
    failed = next(r for r in store.records(campaign.id) if r.type == "step.failed")
    assert "slipped out of the right hand" in str(failed.payload["message"])
    assert sum(1 for s in steps if s[0] == "step.failed") == 1
    vial = lab.bench.sample(SAMPLE)
    assert (vial.location, vial.held_by) == ("archive", None)
    robot = lab.devices["kapex-1"]
    assert isinstance(robot, KapexDriver)
    assert robot.client.world.get(SAMPLE).location == "archive"  # type: ignore[union-attr]
    assert campaign.quarantined == {}


def test_an_estop_stops_everything_and_nothing_is_retried(tmp_path: Path, store: Store) -> None:
    # pick at the rack 0-8 s, then the walk to the reactor: the e-stop comes at 20 s
    journal, lab = _run(tmp_path, store, estop_at_s=20.0)
    campaign = journal.campaign
    failed = campaign.experiments["E0001"]
    assert failed.status is ExperimentStatus.FAILED
    assert "person in the aisle" in (failed.failure or "")
    steps = _steps(store, journal)
    assert steps == [
        ("step.dispatched", "pick", 2, None),
        ("step.dispatched", "place", 3, None),
        ("step.failed", "SafetyInterlock", 3, None),  # never retried
        ("step.dispatched", "place", -1, None),  # CFL tries to discard the vial held...
        ("step.failed", "SafetyInterlock", -1, None),  # ...which the e-stop refuses
    ]
    assert "kapex-1" in campaign.quarantined  # it holds the vial: a person must clear it
    vial = lab.bench.sample(SAMPLE)
    assert (vial.location, vial.held_by) == ("rack", "kapex-1")  # where the e-stop left it
    robot = lab.devices["kapex-1"]
    assert isinstance(robot, KapexDriver)
    assert robot.client.world.get(SAMPLE).held_by == "kapex-1/right"  # type: ignore[union-attr]
