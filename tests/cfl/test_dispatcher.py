from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

import pytest
from pydantic import JsonValue

from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext, Reading
from cfl.dispatcher import HANDLERS, Dispatcher
from cfl.errors import DeviceFault
from cfl.events import ExperimentDesigned
from cfl.journal import Journal
from cfl.lab import Lab
from cfl.models import Experiment, ExperimentStatus
from cfl.pool import DevicePool
from cfl.protocol import COMMANDS
from cfl.spec import CampaignSpec
from cfl.store import Store
from instruments.sim.hplc import SimHPLC

POINT = {"residence_time": 1.0, "equivalents": 2.0, "concentration": 0.2, "temperature": 60.0}


class BrokenHPLC(SimHPLC):
    """An HPLC whose measurement goes wrong in a chosen way."""

    mode = "fault"

    async def measure(self, sample: str) -> Reading:
        await self._context.clock.sleep(60)
        if self.mode == "fault":
            raise DeviceFault("hplc-1: pump pressure high", device=self.name, command="measure")
        if self.mode == "bug":
            raise ValueError("column temperature sensor unplugged")
        return Reading(values={"yield": math.nan, "e_factor": 1.0})


class NotARobot:
    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> NotARobot:
        return cls(name)


def _run(
    spec: CampaignSpec,
    store: Store,
    experiments: list[Experiment],
    swap: dict[str, object] | None = None,
) -> tuple[Journal, DevicePool, float]:
    journal = Journal.create(store, spec, actor="human:ada")
    journal.write(
        "planner:test", *(ExperimentDesigned(lab_time_s=0, experiment=e) for e in experiments)
    )
    clock = LabClock()

    async def main() -> DevicePool:
        lab = Lab.build(spec.lab, clock=clock, seed=spec.seed)
        devices = {**lab.devices, **(swap or {})}
        pool = DevicePool(spec.lab.roles)
        dispatcher = Dispatcher(
            devices=devices,
            pool=pool,
            journal=journal,
            clock=clock,
            lab=spec.lab,
            objectives=("yield", "e_factor"),
        )
        await asyncio.gather(*(dispatcher.run(e) for e in experiments))
        return pool

    pool = run_on_clock(main, clock=clock, kind="virtual")
    return journal, pool, clock.now()


def _experiment(spec: CampaignSpec, index: int) -> Experiment:
    return Experiment(
        id=f"E{index:04d}",
        index=index,
        round=1,
        params=POINT,
        protocol=spec.protocol,
        source="initial",
    )


def test_every_command_has_a_handler() -> None:
    assert set(HANDLERS) == set(COMMANDS) - {"reserve", "release"}


def test_one_experiment_takes_the_documented_lab_time(
    small_spec: CampaignSpec, store: Store
) -> None:
    journal, pool, now = _run(small_spec, store, [_experiment(small_spec, 1)])
    # kapex starts at the rack: grasp 8; walk to reactor 20 + release 6; react 25->60 degC:
    # 3.5 min ramp + 1 min hold + 4 x 1 min = 510 s; grasp 8; walk to hplc 20 + release 6;
    # HPLC 0.5 + 6 min = 390 s; grasp 8; walk to archive 20 + release 6.
    assert now == pytest.approx(8 + 26 + 510 + 8 + 26 + 390 + 8 + 26)
    campaign = journal.campaign
    assert campaign.experiments["E0001"].status == ExperimentStatus.DONE
    assert set(campaign.observations["E0001"].values) == {
        "yield",
        "conversion",
        "space_time_yield",
        "e_factor",
    }
    assert campaign.observations["E0001"].device == "hplc-1"
    assert pool.held == frozenset() and campaign.busy_devices == {}
    records = store.records(campaign.id)
    steps = [
        (r.payload["command"], r.payload["device"], r.payload["at"])
        for r in records
        if r.type == "step.dispatched"
    ]
    assert steps == [
        ("pick", "kapex-1", "rack"),
        ("place", "kapex-1", "reactor-1"),
        ("react", "reactor-1", None),
        ("pick", "kapex-1", "reactor-1"),
        ("place", "kapex-1", "hplc-1"),
        ("measure", "hplc-1", None),
        ("pick", "kapex-1", "hplc-1"),
        ("place", "kapex-1", "archive"),
    ]
    types = [r.type for r in records]
    assert types[2] == "experiment.started" and types[-1] == "observation.recorded"
    assert types.count("step.completed") == 8


def test_parallel_experiments_share_devices_without_collisions(
    small_spec: CampaignSpec, store: Store
) -> None:
    experiments = [_experiment(small_spec, i) for i in range(1, 5)]
    journal, _, now = _run(small_spec, store, experiments)
    assert all(e.status == ExperimentStatus.DONE for e in journal.campaign.experiments.values())
    assert now < 4 * 1002  # two reactors work at once
    busy: dict[str, str] = {}
    for record in store.records(journal.campaign.id):  # no device ever runs two steps at once
        if record.type == "step.dispatched":
            assert record.payload["device"] not in busy
            busy[str(record.payload["device"])] = str(record.payload["experiment"])
        elif record.type == "step.completed":
            del busy[str(record.payload["device"])]


@pytest.mark.parametrize(
    ("mode", "error", "reason"),
    [
        ("fault", "DeviceFault", "pump pressure high"),
        ("bug", "DeviceFault", "hplc-1 failed in measure: ValueError: column temperature"),
        ("nan", "DeviceFault", "reported yield=nan, which is not a finite number"),
    ],
)
def test_a_failed_measurement_records_no_observation_and_frees_devices(
    small_spec: CampaignSpec, store: Store, mode: str, error: str, reason: str
) -> None:
    class Broken(BrokenHPLC):
        pass

    Broken.mode = mode
    broken = Broken.from_config("hplc-1", {}, DeviceContext(LabClock(), None, 0))  # type: ignore[arg-type]
    journal, pool, _ = _run(
        small_spec, store, [_experiment(small_spec, 1)], swap={"hplc-1": broken}
    )
    failed = journal.campaign.experiments["E0001"]
    assert failed.status == ExperimentStatus.FAILED
    assert reason in (failed.failure or "")
    assert journal.campaign.observations == {}
    assert pool.held == frozenset()
    last = store.records(journal.campaign.id)[-1]
    assert (last.type, last.payload["error"], last.payload["device"]) == (
        "experiment.failed",
        error,
        "hplc-1",
    )


def test_a_device_without_the_capability_fails_the_experiment(
    small_spec: CampaignSpec, store: Store
) -> None:
    journal, pool, _ = _run(
        small_spec, store, [_experiment(small_spec, 1)], swap={"kapex-1": NotARobot("kapex-1")}
    )
    failed = journal.campaign.experiments["E0001"]
    assert failed.status == ExperimentStatus.FAILED
    assert "does not implement Transfers" in (failed.failure or "")
    assert pool.held == frozenset()


def test_measuring_a_sample_again_draws_fresh_noise() -> None:
    from cfl.bench import Bench
    from cfl.devices import DeviceContext as Context

    context = Context(clock=LabClock(), bench=Bench({}), seed=3)
    first, second = context.rng("hplc-1", "S-1"), context.rng("hplc-1", "S-1")
    again = Context(clock=LabClock(), bench=Bench({}), seed=3).rng("hplc-1", "S-1")
    a, b, c = first.normal(), second.normal(), again.normal()
    assert a != b  # a repeat is a new measurement
    assert a == c  # but the sequence is reproducible
