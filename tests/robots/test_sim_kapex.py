"""The simulated KAPEX: capability, the lab time of pick and place, the collisions it refuses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext, Measures, Reacts, Transfers
from cfl.errors import DeviceFault, SpecError
from robots.sim_kapex import KapexOptions, SimKapex

NAME = "kapex-1"
STATION = "reactor-1"


def _lab(options: Mapping[str, JsonValue] | None = None) -> tuple[LabClock, Bench, SimKapex]:
    clock = LabClock()
    bench = Bench({"rack": None, "archive": None}, supplies=frozenset({"rack"}))
    bench.add_location(STATION, 1)
    robot = SimKapex.from_config(
        NAME, options or {}, DeviceContext(clock=clock, bench=bench, seed=1)
    )
    return clock, bench, robot


def _elapsed(clock: LabClock, work: Callable[[], Awaitable[None]]) -> float:
    """Lab seconds ``work`` takes on the virtual clock."""

    async def main() -> float:
        start = clock.now()
        await work()
        return clock.now() - start

    return run_on_clock(main, clock=clock, kind="virtual")


def test_kapex_transfers_but_neither_reacts_nor_measures() -> None:
    _, _, robot = _lab()

    assert isinstance(robot, Transfers)
    assert not isinstance(robot, Reacts)
    assert not isinstance(robot, Measures)
    assert robot.measurands == {}
    assert KapexOptions() == KapexOptions(travel_s=20.0, grasp_s=8.0, release_s=6.0, home=None)


def test_pick_at_a_supply_makes_a_vial_and_costs_travel_plus_grasp() -> None:
    clock, bench, robot = _lab()
    start = robot.location

    elapsed = _elapsed(clock, lambda: robot.pick("S1", "rack"))

    assert start is None  # no home: the first move costs travel
    assert elapsed == 20.0 + 8.0
    vial = bench.sample("S1")
    assert (vial.location, vial.held_by, vial.contents) == ("rack", NAME, {})
    assert (robot.location, robot.holding) == ("rack", "S1")
    assert bench.occupants("rack") == []  # in the gripper, not on the rack


def test_pick_where_the_robot_already_stands_costs_only_the_grasp() -> None:
    clock, _, robot = _lab({"home": "rack"})
    assert robot.location == "rack"

    assert _elapsed(clock, lambda: robot.pick("S1", "rack")) == 8.0


def test_place_costs_travel_plus_release_and_sets_the_vial_down() -> None:
    clock, bench, robot = _lab({"home": "rack"})

    async def pick_and_place() -> None:
        await robot.pick("S1", "rack")
        await robot.place("S1", STATION)

    assert _elapsed(clock, pick_and_place) == 8.0 + 20.0 + 6.0
    vial = bench.sample("S1")
    assert (vial.location, vial.held_by) == (STATION, None)
    assert (robot.location, robot.holding) == (STATION, None)
    assert bench.occupants(STATION) == ["S1"]


def test_a_full_round_trip_adds_up_with_custom_timings() -> None:
    clock, bench, robot = _lab({"travel_s": 5.0, "grasp_s": 2.0, "release_s": 1.0, "home": "rack"})

    async def round_trip() -> None:
        await robot.pick("S1", "rack")  # 2 (already at the rack)
        await robot.place("S1", STATION)  # 5 + 1
        await robot.pick("S1", STATION)  # 2 (still there)
        await robot.place("S1", "archive")  # 5 + 1

    assert _elapsed(clock, round_trip) == 16.0
    assert bench.occupants("archive") == ["S1"]
    assert bench.occupants(STATION) == []


def test_pick_while_holding_faults_naming_the_held_sample_and_costs_nothing() -> None:
    clock, bench, robot = _lab({"home": "rack"})
    _elapsed(clock, lambda: robot.pick("S1", "rack"))

    async def attempt() -> float:
        start = clock.now()
        with pytest.raises(DeviceFault, match="kapex-1 cannot pick S2: already holding S1") as e:
            await robot.pick("S2", STATION)
        assert (e.value.device, e.value.command) == (NAME, "pick")
        return clock.now() - start

    assert run_on_clock(attempt, clock=clock, kind="virtual") == 0.0
    assert (robot.location, robot.holding) == ("rack", "S1")
    with pytest.raises(DeviceFault, match="no sample 'S2'"):
        bench.sample("S2")


def test_pick_of_a_sample_that_is_elsewhere_faults_naming_where_it_is() -> None:
    clock, bench, robot = _lab({"home": "rack"})

    async def stage() -> None:
        await robot.pick("S1", "rack")
        await robot.place("S1", STATION)

    _elapsed(clock, stage)

    # The rack is a supply, but S1 exists: no second vial is made under the same id.
    with pytest.raises(
        DeviceFault, match="kapex-1 cannot pick S1 at rack: the sample is at reactor-1"
    ):
        _elapsed(clock, lambda: robot.pick("S1", "rack"))

    assert robot.holding is None
    assert (bench.sample("S1").location, bench.sample("S1").held_by) == (STATION, None)


def test_pick_of_an_unknown_sample_at_a_plain_location_faults() -> None:
    clock, _, robot = _lab()

    with pytest.raises(DeviceFault, match="no sample 'S7' on the bench"):
        _elapsed(clock, lambda: robot.pick("S7", "archive"))

    assert robot.holding is None


def test_place_onto_an_occupied_station_faults_naming_the_occupant() -> None:
    clock, bench, robot = _lab({"home": "rack"})

    async def stage() -> None:
        await robot.pick("S1", "rack")
        await robot.place("S1", STATION)
        await robot.pick("S2", "rack")

    _elapsed(clock, stage)

    with pytest.raises(
        DeviceFault, match=r"kapex-1 cannot place S2 at reactor-1: it already holds \['S1'\]"
    ) as e:
        _elapsed(clock, lambda: robot.place("S2", STATION))

    assert (e.value.device, e.value.command) == (NAME, "place")
    assert robot.holding == "S2"  # still in the gripper
    assert bench.sample("S2").held_by == NAME
    assert bench.occupants(STATION) == ["S1"]


def test_unlimited_locations_take_any_number_of_samples() -> None:
    clock, bench, robot = _lab({"home": "rack"})

    async def fill() -> None:
        for sample in ("S1", "S2", "S3"):
            await robot.pick(sample, "rack")
            await robot.place(sample, "archive")

    _elapsed(clock, fill)

    assert bench.occupants("archive") == ["S1", "S2", "S3"]


def test_place_at_an_unknown_location_faults_naming_it() -> None:
    clock, bench, robot = _lab({"home": "rack"})
    _elapsed(clock, lambda: robot.pick("S1", "rack"))

    with pytest.raises(DeviceFault, match="kapex-1 cannot place S1 at unknown location 'nowhere'"):
        _elapsed(clock, lambda: robot.place("S1", "nowhere"))

    assert robot.holding == "S1"
    assert bench.sample("S1").held_by == NAME


def test_place_of_a_sample_the_robot_does_not_hold_faults() -> None:
    clock, _, robot = _lab({"home": "rack"})
    _elapsed(clock, lambda: robot.pick("S1", "rack"))
    _elapsed(clock, lambda: robot.place("S1", "archive"))

    with pytest.raises(DeviceFault, match="kapex-1 cannot place S1: it is not holding it"):
        _elapsed(clock, lambda: robot.place("S1", STATION))


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"travel_s": -1.0}, "travel_s"),
        ({"grasp_s": -0.5}, "grasp_s"),
        ({"speed": 2}, "speed"),
    ],
)
def test_bad_options_raise_spec_error_naming_device_and_option(
    options: dict[str, JsonValue], named: str
) -> None:
    with pytest.raises(SpecError, match=rf"device 'kapex-1' has bad options: {named}: "):
        _lab(options)
