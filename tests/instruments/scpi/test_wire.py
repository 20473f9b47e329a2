"""The SCPI driver over a real TCP socket (pyvisa-py, ``@py``) to the server in ``wire.py``."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from pydantic import JsonValue

from cfl.clock import LabClock, run_on_clock
from cfl.devices import Heats, Measures, Reading, Stoppable
from cfl.errors import DeviceDisconnected, DeviceFault, DeviceTimeout
from instruments.scpi.driver import ScpiInstrument
from instruments.scpi.replies import ScpiError
from tests.instruments.scpi.conftest import build, on_clock
from tests.instruments.scpi.wire import WireInstrument

QUANTITIES: dict[str, JsonValue] = {
    "absorbance": {"query": "MEAS:ABS?", "range": [-0.1, 4.0]},
}


def _device(wire: WireInstrument, clock: LabClock, **quantities: JsonValue) -> ScpiInstrument:
    return build(
        {
            "backend": "@py",
            "timeout_ms": 300,
            "capabilities": ["measures", "heats"],
            "measure": {"quantities": quantities or QUANTITIES},
            "heat": {"set": "SOUR:TEMP {target_c:.2f}", "read": "MEAS:TEMP?", "poll_s": 5},
        },
        wire.address,
        clock=clock,
        name="block-1",
    )


def _measure(device: ScpiInstrument) -> Reading:
    assert isinstance(device, Measures)
    return on_clock(lambda: device.measure("S1"), LabClock())


def test_a_query_round_trip_checks_the_error_queue(wire: WireInstrument) -> None:
    device = _device(wire, LabClock())

    reading = _measure(device)

    assert reading.values == {"absorbance": 0.4321}
    assert reading.raw == {"absorbance": "0.4321"}
    # the queue is read when the session opens, and after the query
    assert wire.received == ["SYST:ERR?", "MEAS:ABS?", "SYST:ERR?"]


def test_heat_polls_on_the_lab_clock_until_within_tolerance(wire: WireInstrument) -> None:
    clock = LabClock()
    device = _device(wire, clock)
    assert isinstance(device, Heats)

    reached = on_clock(lambda: device.heat("S1", 60.0), clock)

    # the server's block halves the gap at each read: 42.5, 51.25, ... 59.73 on the 7th
    assert reached == 59.73
    assert wire.received.count("MEAS:TEMP?") == 7
    assert clock.now() == 6 * 5.0


def test_an_error_in_the_queue_over_the_socket_is_a_fault_with_code_and_message(
    wire: WireInstrument,
) -> None:
    clock = LabClock()
    device = _device(wire, clock)
    assert isinstance(device, Heats)

    with pytest.raises(ScpiError) as caught:
        on_clock(lambda: device.heat("S1", 200.0), clock)

    assert caught.value.errors == ((-222, "Data out of range"),)
    assert caught.value.command == "SOUR:TEMP 200.00"
    assert "reported -222 'Data out of range' after 'SOUR:TEMP 200.00'" in str(caught.value)
    assert not wire.errors
    assert wire.setpoint_c == 25.0


def test_a_connection_reset_mid_command_is_a_disconnection_and_the_next_command_reconnects(
    wire: WireInstrument,
) -> None:
    device = _device(wire, LabClock())
    _measure(device)
    wire.hang_up["MEAS:ABS?"] = "reset"

    with pytest.raises(DeviceDisconnected) as caught:
        _measure(device)

    assert caught.value.retryable
    assert caught.value.command == "MEAS:ABS?"
    assert str(caught.value).startswith(
        f"block-1: the connection to {wire.address} failed during 'MEAS:ABS?' "
    )
    assert "check that the instrument is on, connected and in remote mode" in str(caught.value)
    assert _measure(device).values == {"absorbance": 0.4321}


def test_an_orderly_close_mid_command_is_a_timeout_then_the_next_command_reconnects(
    wire: WireInstrument,
) -> None:
    # pyvisa-py reports no reply on a socket closed with FIN as a timeout, not a lost connection
    device = _device(wire, LabClock())
    wire.hang_up["MEAS:ABS?"] = "close"

    with pytest.raises(DeviceTimeout) as caught:
        _measure(device)

    assert caught.value.retryable
    assert _measure(device).values == {"absorbance": 0.4321}


def test_an_instrument_that_is_gone_is_a_disconnection_naming_the_address(
    wire: WireInstrument,
) -> None:
    device = _device(wire, LabClock())
    wire.stop()

    with pytest.raises(DeviceDisconnected) as caught:
        _measure(device)

    assert str(caught.value).startswith(f"block-1: the connection to {wire.address} failed")
    assert "Connection refused" in str(caught.value)


def test_concurrent_commands_to_one_instrument_go_one_at_a_time(wire: WireInstrument) -> None:
    device = _device(
        wire,
        LabClock(),
        slow={"query": "MEAS:SLOW?", "range": [0, 2]},
        absorbance={"query": "MEAS:ABS?", "range": [-0.1, 4.0]},
    )
    assert isinstance(device, Measures)

    async def main() -> list[Reading]:
        return list(await asyncio.gather(*(device.measure(f"S{i}") for i in range(6))))

    readings = on_clock(main, LabClock())

    assert [r.values for r in readings] == [{"slow": 1.0, "absorbance": 0.4321}] * 6
    assert wire.pipelined == 0
    assert wire.received.count("MEAS:SLOW?") == 6


def test_an_error_queue_that_never_empties_is_a_fault_not_an_endless_loop(
    wire: WireInstrument,
) -> None:
    wire.errors.extend([(-300, "Device-specific error")] * 40)
    device = _device(wire, LabClock())

    with pytest.raises(DeviceFault) as caught:
        _measure(device)

    assert str(caught.value).startswith(
        "block-1: the error queue still held entries after 32 reads of 'SYST:ERR?' after opening "
        "the session (first: -300 'Device-specific error'); the instrument keeps reporting a fault"
    )
    assert wire.received.count("SYST:ERR?") == 32


def test_a_stop_after_a_cancelled_command_waits_for_its_exchange_to_finish(
    wire: WireInstrument,
) -> None:
    # what the dispatcher does at a step deadline: cancel the step, then stop the device
    device = build(
        {
            "backend": "@py",
            "capabilities": ["measures", "stoppable"],
            "measure": {"quantities": {"slow": {"query": "MEAS:SLOW?", "range": [0, 2]}}},
            "stop": ["OUTP OFF"],
        },
        wire.address,
    )
    assert isinstance(device, Measures) and isinstance(device, Stoppable)

    async def main() -> None:
        step = asyncio.create_task(device.measure("S1"))
        while "MEAS:SLOW?" not in wire.received:
            await asyncio.sleep(0.001)
        step.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await step
        await device.stop()

    run_on_clock(main, clock=LabClock(), kind="wall")

    assert wire.received[-4:] == ["MEAS:SLOW?", "SYST:ERR?", "OUTP OFF", "SYST:ERR?"]
    assert wire.pipelined == 0
    assert not wire.output_on


def test_close_ends_the_session_and_the_next_command_opens_a_new_one(
    wire: WireInstrument,
) -> None:
    device = _device(wire, LabClock())
    _measure(device)

    on_clock(device.close, LabClock())
    _measure(device)

    assert wire.received == ["SYST:ERR?", "MEAS:ABS?", "SYST:ERR?"] * 2
