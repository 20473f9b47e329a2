"""Device slots held per device reservation: flows.campaign.DeviceSlots and keeps_slot."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cfl.dispatcher import StepCall
from cfl.protocol import Step
from tests.flows.conftest import PrefectServer


async def _active_slots(client: Any, device: str) -> int:
    limit = await client.read_global_concurrency_limit_by_name(f"device:{device}")
    return int(limit.active_slots)


def test_a_reservation_holds_one_lease_and_other_runs_wait_for_it(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    from prefect import get_client

    from flows.campaign import DeviceSlots
    from flows.limits import LeaseRegistry, ensure_device_limits

    ensure_device_limits(["slots-probe"])
    registry = LeaseRegistry(tmp_path / "leases")

    async def scenario() -> None:
        async with get_client() as client:
            ours, theirs = DeviceSlots(client, registry), DeviceSlots(client)
            assert await ours.take("slots-probe", "E0001/1") is True  # the pick takes it
            assert await ours.take("slots-probe", "E0001/1") is False  # the place keeps it
            assert ours.holder("slots-probe") == "E0001/1"
            assert len(list(registry.folder.iterdir())) == 1
            assert await _active_slots(client, "slots-probe") == 1
            with pytest.raises(TimeoutError):  # another run: the device stays busy
                await theirs.take("slots-probe", "E0009/1", timeout_s=0.6)
            # a reservation of this run cut short: the pool's next experiment takes it over
            assert await ours.take("slots-probe", "E0002/1") is False
            assert ours.holder("slots-probe") == "E0002/1"
            ours.let_go_of("E0001/1")  # not E0001's any more: nothing happens
            assert ours.holder("slots-probe") == "E0002/1"
            ours.let_go("slots-probe")
            assert ours.holder("slots-probe") is None
            started = time.monotonic()
            assert await theirs.take("slots-probe", "E0009/1", timeout_s=5) is True
            assert time.monotonic() - started < 2  # waited for the release, not a lease expiry
            assert list(registry.folder.iterdir()) == []
            await theirs.close()
            assert await _active_slots(client, "slots-probe") == 0

    asyncio.run(scenario())


def test_a_take_waits_for_this_runs_release_under_way(prefect_server: PrefectServer) -> None:
    from prefect import get_client

    from flows.campaign import DeviceSlots
    from flows.limits import ensure_device_limits

    ensure_device_limits(["handoff-probe"])

    async def scenario() -> None:
        async with get_client() as client:
            slots = DeviceSlots(client)
            await slots.take("handoff-probe", "E0001/1")
            slots.let_go("handoff-probe")  # in the background
            started = time.monotonic()
            assert await slots.take("handoff-probe", "E0002/1", timeout_s=5) is True
            assert time.monotonic() - started < 0.45  # no 423 and half-second poll in between
            assert slots.holder("handoff-probe") == "E0002/1"
            await slots.close()
            assert await _active_slots(client, "handoff-probe") == 0

    asyncio.run(scenario())


PROTOCOL = (  # the demo's first half, then a robot reservation around another device's step
    ("reserve", "reactor"),
    ("reserve", "robot"),
    ("pick", "robot"),
    ("place", "robot"),
    ("release", "robot"),
    ("react", "reactor"),
    ("reserve", "hplc"),
    ("reserve", "robot"),
    ("pick", "robot"),
    ("measure", "hplc"),
    ("place", "robot"),
    ("release", "robot"),
    ("release", "reactor"),
    ("release", "hplc"),
)


def test_the_slot_is_kept_until_the_reservations_last_step() -> None:
    from flows.campaign import PrefectHooks

    protocol = tuple(
        Step(command=c, role=r, at="rack" if c in ("pick", "place") else None) for c, r in PROTOCOL
    )
    journal: Any = SimpleNamespace(
        campaign=SimpleNamespace(experiments={"E0001": SimpleNamespace(protocol=protocol)})
    )
    hooks = PrefectHooks(bridge=None, journal=journal)  # type: ignore[arg-type]

    def keeps(index: int) -> bool:
        command, role = PROTOCOL[index] if index >= 0 else ("place", "robot")
        return hooks.keeps_slot(StepCall("E0001", 1, index, command, role, "dev", None))

    steps = [i for i, (c, _) in enumerate(PROTOCOL) if c not in ("reserve", "release")]
    assert {i: keeps(i) for i in steps} == {
        2: True,  # pick: the place follows in the same robot reservation
        3: False,  # place: the robot is released next
        5: False,  # react: the reactor's only step
        8: True,  # pick: the place comes after the measurement, the robot still reserved
        9: False,
        10: False,
    }
    assert keeps(-1) is False  # moves that clear a failed experiment's vial, one at a time


def test_only_the_completed_step_tasks_finished_line_is_dropped() -> None:
    import logging

    from flows.campaign import QuietCompletedSteps

    def record(level: int, msg: str, task_name: str) -> logging.LogRecord:
        made = logging.LogRecord("prefect.task_runs", level, __file__, 1, msg, None, None)
        made.task_name = task_name
        return made

    quiet = QuietCompletedSteps()
    assert not quiet.filter(record(logging.INFO, "Finished in state Completed()", "step"))
    assert quiet.filter(record(logging.ERROR, "Finished in state Failed('boom')", "step"))
    assert quiet.filter(record(logging.INFO, "Task run failed with exception - Retry", "step"))
    assert quiet.filter(record(logging.INFO, "Finished in state Completed()", "other"))
