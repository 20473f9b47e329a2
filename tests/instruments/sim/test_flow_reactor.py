"""The simulated flow-reactor station: capability, lab-time cost, what it leaves in the vial,
and the faults it raises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext, Estimates, Measures, Reacts, Transfers
from cfl.errors import DeviceFault, SpecError
from cfl.space import ParamValue
from instruments.sim.flow_reactor import FlowReactorOptions, SimFlowReactor
from instruments.sim.snar import SnarConditions, simulate_snar

T = TypeVar("T")

NAME = "reactor-1"
CONDITIONS: dict[str, ParamValue] = {
    "residence_time": 1.0,
    "equivalents": 2.0,
    "concentration": 0.3,
    "temperature": 55.0,
}


def _lab(options: Mapping[str, JsonValue] | None = None) -> tuple[LabClock, Bench, SimFlowReactor]:
    clock = LabClock()
    bench = Bench({"rack": None}, supplies=frozenset({"rack"}))
    bench.add_location(NAME, 1)
    reactor = SimFlowReactor.from_config(
        NAME, options or {}, DeviceContext(clock=clock, bench=bench, seed=1)
    )
    return clock, bench, reactor


def _load(bench: Bench, sample: str = "S1") -> None:
    """Put a fresh vial from the rack into the reactor, as the robot would."""
    bench.take(sample, "rack", robot="arm")
    bench.put(sample, NAME, robot="arm")


def _timed(clock: LabClock, work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    """Run ``work`` on the virtual clock; its result and the lab seconds it took."""

    async def main() -> tuple[T, float]:
        start = clock.now()
        result = await work()
        return result, clock.now() - start

    return run_on_clock(main, clock=clock, kind="virtual")


def test_reactor_reacts_but_neither_measures_nor_transfers() -> None:
    _, _, reactor = _lab()

    assert isinstance(reactor, Reacts)
    assert not isinstance(reactor, Measures)
    assert not isinstance(reactor, Transfers)
    assert reactor.measurands == {}
    assert reactor.name == NAME


def test_default_options_and_starting_temperature() -> None:
    _, _, reactor = _lab()

    assert FlowReactorOptions() == FlowReactorOptions(
        ramp_c_per_min=10.0,
        equilibration_min=1.0,
        steady_state_volumes=3.0,
        start_temperature_c=25.0,
    )
    assert reactor.temperature_c == 25.0


def test_react_takes_ramp_plus_equilibration_plus_flush_and_collection() -> None:
    clock, bench, reactor = _lab()
    _load(bench)

    _, elapsed = _timed(clock, lambda: reactor.react("S1", CONDITIONS))

    # 25 -> 55 degC at 10 degC/min: 3 min; hold 1 min; flush 3 volumes and collect 1 at 1 min each.
    assert elapsed == 60 * (30 / 10 + 1 + 4 * 1.0) == 480.0
    assert reactor.temperature_c == 55.0


def test_the_vial_holds_the_model_outlet_and_the_conditions_it_was_made_under() -> None:
    clock, bench, reactor = _lab()
    _load(bench)

    _timed(clock, lambda: reactor.react("S1", CONDITIONS))

    vial = bench.sample("S1")
    c1, c2, c3, c4, c5 = simulate_snar(SnarConditions(1.0, 2.0, 0.3, 55.0))
    assert vial.contents == {"dfnb": c1, "pyrrolidine": c2, "ortho": c3, "para": c4, "bis": c5}
    assert vial.charge == CONDITIONS
    assert vial.location == NAME
    assert vial.held_by is None


def test_a_second_react_at_the_same_temperature_skips_the_ramp() -> None:
    clock, bench, reactor = _lab()
    _load(bench)
    again = {**CONDITIONS, "residence_time": 0.5}

    async def both() -> tuple[float, float]:
        t0 = clock.now()
        await reactor.react("S1", CONDITIONS)
        t1 = clock.now()
        await reactor.react("S1", again)
        return t1 - t0, clock.now() - t1

    (first, second), total = _timed(clock, both)

    assert first == 480.0
    assert second == 60 * (0 + 1 + 4 * 0.5) == 180.0
    assert total == 660.0
    assert bench.sample("S1").charge == again


def test_cooling_costs_ramp_time_too_and_options_set_every_term() -> None:
    options: dict[str, JsonValue] = {
        "ramp_c_per_min": 5.0,
        "equilibration_min": 2.0,
        "steady_state_volumes": 1.0,
        "start_temperature_c": 55.0,
    }
    clock, bench, reactor = _lab(options)
    _load(bench)

    cold = {**CONDITIONS, "temperature": 30.0, "residence_time": 2.0}

    _, elapsed = _timed(clock, lambda: reactor.react("S1", cold))

    # |30 - 55| / 5 = 5 min ramp, 2 min hold, (1 + 1) volumes * 2 min = 4 min: 11 min.
    assert elapsed == 660.0
    assert reactor.temperature_c == 30.0


def test_react_on_a_sample_not_at_the_station_faults_naming_the_sample() -> None:
    clock, bench, reactor = _lab()
    bench.take("S1", "rack", robot="arm")
    bench.put("S1", "rack", robot="arm")

    with pytest.raises(DeviceFault, match=r"reactor-1 cannot react S1: .*\(it is at rack\)") as e:
        _timed(clock, lambda: reactor.react("S1", CONDITIONS))

    assert e.value.device == NAME
    assert e.value.command == "react"
    assert bench.sample("S1").contents == {}
    assert reactor.temperature_c == 25.0


def test_react_on_a_sample_still_in_the_gripper_faults_naming_the_robot() -> None:
    clock, bench, reactor = _lab()
    bench.take("S1", "rack", robot="arm")

    with pytest.raises(DeviceFault, match=r"cannot react S1: .*\(it is at arm\)"):
        _timed(clock, lambda: reactor.react("S1", CONDITIONS))


def test_react_on_a_sample_that_does_not_exist_faults_naming_it() -> None:
    clock, _, reactor = _lab()

    with pytest.raises(DeviceFault, match="no sample 'S9' on the bench"):
        _timed(clock, lambda: reactor.react("S9", CONDITIONS))


def test_the_fault_for_a_sample_that_does_not_exist_is_attributed_to_the_reactor() -> None:
    clock, _, reactor = _lab()

    with pytest.raises(DeviceFault) as e:
        _timed(clock, lambda: reactor.react("S9", CONDITIONS))

    assert (e.value.device, e.value.command) == (NAME, "react")


def test_missing_and_unknown_parameters_fault_naming_them_and_take_no_time() -> None:
    clock, bench, reactor = _lab()
    _load(bench)
    bad = {k: v for k, v in CONDITIONS.items() if k != "temperature"} | {"pressure": 3.0}

    async def attempt() -> float:
        start = clock.now()
        with pytest.raises(DeviceFault) as e:
            await reactor.react("S1", bad)
        assert e.value.device == NAME
        assert e.value.command == "react"
        assert "missing ['temperature'], unknown ['pressure']" in str(e.value)
        assert "['concentration', 'equivalents', 'residence_time', 'temperature']" in str(e.value)
        return clock.now() - start

    elapsed, _total = _timed(clock, attempt)

    assert elapsed == 0.0
    assert bench.sample("S1").contents == {}
    assert bench.sample("S1").charge == {}


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"bogus": 1}, "bogus"),
        ({"ramp_c_per_min": -5.0}, "ramp_c_per_min"),
        ({"ramp_c_per_min": 0.0}, "ramp_c_per_min"),
        ({"equilibration_min": -1.0}, "equilibration_min"),
        ({"steady_state_volumes": "many"}, "steady_state_volumes"),
    ],
)
def test_bad_options_raise_spec_error_naming_device_and_option(
    options: dict[str, JsonValue], named: str
) -> None:
    with pytest.raises(SpecError, match=rf"device 'reactor-1' has bad options: {named}: "):
        _lab(options)


def test_the_reactor_estimates_its_run_as_it_will_take_it() -> None:
    _, _, reactor = _lab()
    assert isinstance(reactor, Estimates)
    # from 25 degC to 55 degC: 3 min ramp + 1 min hold + (3 + 1) x 1 min = 8 min
    conditions = {**CONDITIONS, "temperature": 55.0, "residence_time": 1.0}
    assert reactor.expected_duration_s("react", conditions) == pytest.approx(480.0)
    assert reactor.expected_duration_s("measure", conditions) is None
    assert reactor.expected_duration_s("react", {"temperature": 55.0}) is None
