"""``driver: kapex`` with ``transport: sila``: CFL's pick and place dispatched over the wire."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock
from cfl.devices import DeviceContext
from cfl.errors import DeviceDisconnected, DeviceFault, SpecError
from robots.contract import ErrorCode, GoalStatus, RobotError
from robots.kapex.driver import KapexDriver
from robots.sila.transport import SilaTransport
from tests.robots.rig import NAME, POLICY
from tests.robots.sila.conftest import Hosting, wire_rig

OWNER = "cfl/KIST-Seoul/team-7/kapex-1"  # the driver's default: cfl/<site>/<team>/<device>


def test_pick_and_place_move_a_vial_on_the_served_bench(hosting: Hosting) -> None:
    served = hosting.robot()
    setup = wire_rig(served)
    other = served.transport()

    async def body() -> str:
        await setup.driver.pick("S-E0001-1", "rack")
        await setup.driver.place("S-E0001-1", "reactor-1")
        with pytest.raises(RobotError) as held:  # the driver holds the robot's lease meanwhile
            await other.acquire_lease("cfl/KAIST/team-9/kapex-1", 5.0)
        return held.value.info.message

    held = setup.run(body)
    assert f"leased to {OWNER}" in held
    vial = served.bench.sample("S-E0001-1")
    assert (vial.location, vial.held_by) == ("reactor-1", None)  # on the served bench
    assert served.robot.holding is None
    assert served.robot.pose.base == pytest.approx((5.7, 0.0))
    world = setup.client.world.get("S-E0001-1")  # the client's world model followed
    assert world is not None and (world.location, world.held_by) == ("reactor-1", None)
    assert [(e.skill, e.outcome, e.robot_serial) for e in setup.sink.episodes] == [
        ("pick", "succeeded", "KPX-T-0001"),
        ("place", "succeeded", "KPX-T-0001"),
    ]
    assert served.server.host.ended == {GoalStatus.SUCCEEDED: 2}
    assert served.server.report() == "kapex-1: 2 goals over SiLA 2 (succeeded 2)"
    released = asyncio.run(other.acquire_lease("cfl/KAIST/team-9/kapex-1", 5.0))
    assert released.sequence == 2  # closing the driver gave the lease up


def test_a_slip_over_the_wire_reaches_cfl_as_a_retryable_fault(hosting: Hosting) -> None:
    served = hosting.robot(grasp_failure_rate=1.0)
    setup = wire_rig(served)

    async def body() -> None:
        await setup.driver.pick("S-E0001-1", "rack")

    with pytest.raises(DeviceFault, match=r"slipped out of the right hand.*\[grasp_failed\]") as e:
        setup.run(body)
    assert e.value.retryable is True and e.value.device == NAME
    assert setup.client.world.get("S-E0001-1") is None  # rolled back: nothing moved


def _context(**changes: Any) -> DeviceContext:
    return DeviceContext(clock=LabClock(), bench=Bench({"rack": None}), seed=0, **changes)


def test_a_sila_robot_is_a_real_time_robot_with_its_own_checked_options() -> None:
    driver = KapexDriver.from_config(
        NAME,
        {"transport": "sila", "safety": POLICY, "transport_options": {"call_timeout_s": 3}},
        _context(address="127.0.0.1:50055"),
    )
    assert driver.requires_wall_clock is True
    transport = driver.client.transport  # built on first use, not connected
    assert isinstance(transport, SilaTransport)
    assert (transport.address, transport.options.call_timeout_s) == ("127.0.0.1:50055", 3.0)
    refused: list[tuple[dict[str, JsonValue], str]] = [
        ({"transport": "sila"}, "drives a real robot: give it a safety policy"),
        (
            {"transport": "sila", "safety": POLICY, "grasp_failure_rate": 0.1},
            r"\['grasp_failure_rate'\] apply only to the simulator",
        ),
        (
            {"transport": "sila", "safety": POLICY, "transport_options": {"tls": True}},
            r"transport_options of transport 'sila': tls: Extra inputs are not permitted",
        ),
    ]
    for options, problem in refused:
        with pytest.raises(SpecError, match=problem):
            KapexDriver.from_config(NAME, options, _context())


def test_a_sila_robot_without_an_address_is_refused_naming_the_fix() -> None:
    driver = KapexDriver.from_config(NAME, {"transport": "sila", "safety": POLICY}, _context())

    async def body() -> None:
        try:
            await driver.pick("S1", "rack")
        finally:
            await driver.close()

    with pytest.raises(DeviceDisconnected, match="has no address in the lab file") as lost:
        asyncio.run(body())
    assert lost.value.retryable is False
    assert ErrorCode.TRANSPORT_LOST.value in str(lost.value)
