"""``driver: kapex`` as a CFL device: options, capabilities, vials on the bench, CFL errors."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import (
    Closeable,
    DeviceContext,
    Estimates,
    Measures,
    Reacts,
    Stoppable,
    Transfers,
)
from cfl.errors import (
    CFLError,
    DeviceDisconnected,
    DeviceFault,
    DeviceTimeout,
    SafetyInterlock,
    SpecError,
)
from cfl.faults import FaultSpec
from cfl.lab import LabSpec
from robots.contract import StopLevel
from robots.kapex.driver import KapexDriver
from robots.kapex.options import KapexOptions
from robots.kapex.sim_transport import SimTransport
from tests.robots.rig import NAME, POLICY, Rig, options, rig


def _context(**changes: Any) -> DeviceContext:
    return DeviceContext(clock=LabClock(), bench=Bench({"rack": None}), seed=0, **changes)


def real_transport(name: str, options: KapexOptions, context: DeviceContext) -> SimTransport:
    """Stands for a real robot's transport factory named by import path (never called here)."""
    raise AssertionError("from_config must not build the transport")


def test_from_config_validates_without_io_and_builds_nothing() -> None:
    driver = KapexDriver.from_config(
        NAME, options(safety=None, safety_file="/nonexistent/policy.yaml"), _context()
    )
    assert driver._client is None  # no transport, no connection, no file read
    assert driver.requires_wall_clock is False


def test_a_real_transport_needs_the_wall_clock_and_a_safety_policy() -> None:
    path = "tests.robots.kapex.test_driver:real_transport"
    driver = KapexDriver.from_config(
        NAME, {"transport": path, "safety": POLICY, "walk_speed_m_s": 0.6}, _context()
    )
    assert driver.requires_wall_clock is True
    with pytest.raises(SpecError, match="drives a real robot: give it a safety policy"):
        KapexDriver.from_config(NAME, {"transport": path}, _context())
    with pytest.raises(SpecError, match=r"\['grasp_failure_rate'\] apply only to the simulator"):
        KapexDriver.from_config(
            NAME, {"transport": path, "safety": POLICY, "grasp_failure_rate": 0.1}, _context()
        )


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"transport": "nowhere.at_all:Thing"}, "cannot import transport 'nowhere.at_all:Thing'"),
        ({"transport": "grpc"}, "transport 'grpc' is neither 'sim' nor 'module:callable'"),
        ({"speed": 2}, "has bad options: speed: Extra inputs are not permitted"),
        ({"grasp_failure_rate": 1.5}, "grasp_failure_rate: Input should be less than or equal"),
        ({"safety_file": "p.yaml"}, "give safety (inline) or safety_file, not both"),
        ({"safety": {"max_torque_nm": 0}}, "safety.max_torque_nm: Input should be greater than 0"),
    ],
)
def test_bad_options_are_refused_naming_the_option(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(SpecError) as error:
        KapexDriver.from_config(NAME, options(**changes), _context())
    assert named in str(error.value)


def test_a_lab_file_names_the_driver_by_its_entry_point() -> None:
    spec = LabSpec.model_validate(
        {"name": "l", "locations": {"rack": {"supply": True}},
         "devices": {NAME: {"driver": "kapex", "role": "robot", "options": options()}}}
    )
    assert spec.driver_class(NAME) is KapexDriver


def test_kapex_transfers_stops_estimates_and_closes_but_neither_reacts_nor_measures() -> None:
    driver = rig().driver
    for capability in (Transfers, Stoppable, Estimates, Closeable):
        assert isinstance(driver, capability)
    assert not isinstance(driver, Reacts) and not isinstance(driver, Measures)
    assert driver.measurands == {}
    longest = math.dist((20.0, 0.0), (0.0, 5.7))  # shelf to archive
    walk = 2.0 + longest / 0.3 + 1.0  # stow, then the longest walk between known places
    assert driver.expected_duration_s("pick", {}) == pytest.approx(walk + 8.0)
    assert driver.expected_duration_s("place", {}) == pytest.approx(walk + 6.0)
    assert driver.expected_duration_s("react", {}) is None


def _elapsed(setup: Rig, *moves: tuple[str, str, str]) -> list[float]:
    async def body() -> list[float]:
        times = []
        for command, sample, location in moves:
            start = setup.clock.now()
            await getattr(setup.driver, command)(sample, location)
            times.append(setup.clock.now() - start)
        return times

    return setup.run(body)


def test_pick_and_place_move_the_vial_on_the_bench_in_the_documented_time() -> None:
    setup = rig()
    times = _elapsed(
        setup,
        ("pick", "S1", "rack"),
        ("place", "S1", "reactor-1"),
        ("pick", "S1", "reactor-1"),
        ("place", "S1", "hplc-1"),
    )
    assert times == pytest.approx([8.0, 26.0, 8.0, 26.0])
    vial = setup.bench.sample("S1")
    assert (vial.location, vial.held_by) == ("hplc-1", None)
    assert setup.client.world.get("S1").location == "hplc-1"  # type: ignore[union-attr]
    assert [e.outcome for e in setup.sink.episodes] == ["succeeded"] * 4


def _failure(setup: Rig, *moves: tuple[str, str, str]) -> CFLError:
    with pytest.raises(CFLError) as error:
        _elapsed(setup, *moves)
    return error.value


def test_a_slip_is_a_retryable_device_fault_and_moves_nothing() -> None:
    setup = rig({"grasp_failure_rate": 1.0})
    error = _failure(setup, ("pick", "S1", "rack"))
    assert isinstance(error, DeviceFault) and error.retryable
    assert (error.device, error.command) == (NAME, "pick")
    assert "slipped out of the right hand" in str(error) and "[grasp_failed]" in str(error)


def test_safety_stops_are_safety_interlocks() -> None:
    error = _failure(rig(), ("pick", "S1", "shelf"))
    assert isinstance(error, SafetyInterlock) and error.rule == "workspace_violation"
    heavy = _failure(rig({"masses_kg": {"S1": 3.0}}), ("pick", "S1", "rack"))
    assert isinstance(heavy, SafetyInterlock) and heavy.rule == "payload_limit"


def test_the_goal_deadline_is_a_device_timeout_not_retried() -> None:
    error = _failure(rig({"goal_deadline_s": 4.0}), ("pick", "S1", "rack"))
    assert isinstance(error, DeviceTimeout) and not error.retryable and error.timeout_s == 4.0


def test_a_lost_link_is_a_disconnect_left_to_a_person() -> None:
    setup = rig(faults=(FaultSpec(kind="disconnect", command="place"),))
    error = _failure(setup, ("pick", "S1", "rack"), ("place", "S1", "archive"))
    assert isinstance(error, DeviceDisconnected) and not error.retryable
    assert "check the robot before trying again" in str(error)


def test_placing_what_the_robot_does_not_hold_is_a_device_fault_not_retried() -> None:
    error = _failure(rig(), ("place", "S1", "archive"))
    assert isinstance(error, DeviceFault) and not error.retryable
    assert "kapex-1 cannot place S1: it is not holding it" in str(error)


def test_a_robot_leased_to_another_team_is_a_device_fault_naming_the_owner() -> None:
    setup = rig()

    async def body() -> None:
        await setup.second_client("cfl/KAIST/team-9/kapex-1").acquire_lease()
        with pytest.raises(DeviceFault, match="leased to cfl/KAIST/team-9/kapex-1") as error:
            await setup.driver.pick("S1", "rack")
        assert not error.value.retryable

    setup.run(body)


def test_an_estop_fails_the_transfer_as_a_safety_interlock() -> None:
    setup = rig()

    async def body() -> None:
        pick = asyncio.ensure_future(setup.driver.pick("S1", "rack"))
        await setup.clock.sleep(2.0)
        await setup.client.estop(StopLevel.SETTLE_THEN_CUT, "fire alarm", by="human:lee")
        with pytest.raises(SafetyInterlock, match="fire alarm") as error:
            await pick
        assert error.value.rule == "estopped"

    setup.run(body)


def test_stop_cancels_the_running_goal() -> None:
    setup = rig()

    async def body() -> None:
        place = asyncio.ensure_future(setup.driver.place("S1", "reactor-1"))
        await setup.clock.sleep(0.0)
        await setup.driver.stop()  # nothing runs yet: the pick below comes first
        place.cancel()
        pick = asyncio.ensure_future(setup.driver.pick("S1", "rack"))
        await setup.clock.sleep(3.0)
        await setup.driver.stop()
        with pytest.raises(DeviceFault, match=r"was cancelled \[cancelled\]") as error:
            await pick
        assert not error.value.retryable

    setup.run(body)
    assert setup.sink.episodes[-1].outcome == "cancelled"


def test_when_cfl_gives_up_on_a_step_the_goal_is_cancelled_on_the_robot() -> None:
    setup = rig()

    async def body() -> None:
        with pytest.raises(TimeoutError):
            async with setup.clock.timeout(10.0):  # as the dispatcher's step deadline does
                await setup.driver.pick("S1", "rack")
                await setup.driver.place("S1", "reactor-1")
        await setup.clock.sleep(1.0)
        assert setup.client.active is None  # the robot is not left walking unobserved

    setup.run(body)
    assert [e.outcome for e in setup.sink.episodes] == ["succeeded", "cancelled"]
    assert setup.bench.sample("S1").held_by == NAME  # the place never happened


def test_close_gives_the_lease_up_stops_the_keep_alive_and_a_later_call_reconnects() -> None:
    setup = rig()

    async def body() -> None:
        await setup.driver.pick("S1", "rack")
        robot = setup.client.transport
        assert isinstance(robot, SimTransport)
        assert setup.client.lease_keeper.keeping_alive
        await setup.driver.close()
        assert robot.robot._lease is None and not setup.client.lease_keeper.keeping_alive
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
        await setup.driver.place("S1", "archive")  # reconnects, takes the lease again

    setup.run(body)
    assert setup.bench.occupants("archive") == ["S1"]


def test_the_lease_is_kept_alive_while_in_use_and_given_up_when_idle() -> None:
    setup = rig({"lease_ttl_s": 6.0, "lease_idle_release_s": 120.0})

    async def body() -> None:
        await setup.driver.pick("S1", "rack")
        robot = setup.client.transport
        assert isinstance(robot, SimTransport)
        await setup.clock.sleep(60.0)  # ten lease lifetimes, idle
        lease = robot.robot._lease
        assert lease is not None and setup.client.lease is not None  # renewed all along
        await setup.clock.sleep(100.0)
        assert robot.robot._lease is None and setup.client.lease is None  # given up
        assert not setup.client.lease_keeper.keeping_alive  # the keep-alive task ended itself
        await setup.driver.place("S1", "archive")  # and the next goal takes it again

    setup.run(body)


def test_episodes_go_to_the_lab_store_under_the_data_folder(tmp_path: Path) -> None:
    pytest.importorskip("robots.dataset.store")
    clock = LabClock()
    bench = Bench({"rack": None, "archive": None}, supplies=frozenset({"rack"}))
    context = DeviceContext(clock=clock, bench=bench, seed=1, data_dir=tmp_path, team="t")
    driver = KapexDriver.from_config(NAME, options(), context)

    async def body() -> None:
        try:
            await driver.pick("S-E0002-1", "rack")
        finally:
            await driver.close()

    run_on_clock(body, clock=clock, kind="virtual")
    [stored] = list((tmp_path / "episodes").glob("*.json"))
    assert '"experiment":"E0002"' in stored.read_text()

