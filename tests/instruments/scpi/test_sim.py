"""The SCPI driver against pyvisa-sim instruments (``benchtop.yaml``): no network, virtual time."""

from __future__ import annotations

import logging

import pytest
from pydantic import JsonValue

from cfl.clock import LabClock
from cfl.devices import Heats, Measures, Reading, Stoppable
from cfl.errors import DeviceFault, DeviceTimeout
from instruments.scpi.replies import ScpiError
from tests.instruments.scpi.conftest import BLOCK, PHOTOMETER, build, on_clock

ABSORBANCE: dict[str, JsonValue] = {"query": "MEAS:ABS?", "range": [-0.1, 4.0]}
TRANSMITTANCE: dict[str, JsonValue] = {"query": "MEAS:TRAN?", "range": [0.0, 100.0]}


def _photometer(backend: str, **quantities: dict[str, JsonValue]) -> Measures:
    device = build(
        {
            "backend": backend,
            "timeout_ms": 100,
            "capabilities": ["measures", "stoppable"],
            "measure": {"quantities": dict(quantities)},
            "stop": ["ABOR", "LAMP OFF"],
        },
        PHOTOMETER,
    )
    assert isinstance(device, Measures)
    return device


def _block(backend: str, clock: LabClock, **heat: JsonValue) -> Heats:
    device = build(
        {
            "backend": backend,
            "capabilities": ["heats", "stoppable"],
            "heat": {"set": "SOUR:TEMP {target_c:.2f}", "read": "MEAS:TEMP?", **heat},
            "stop": ["OUTP OFF"],
        },
        BLOCK,
        clock=clock,
    )
    assert isinstance(device, Heats)
    return device


def _measure(device: Measures) -> Reading:
    return on_clock(lambda: device.measure("S1"), LabClock())


def test_a_measurement_reports_each_quantity_and_its_raw_reply(sim_backend: str) -> None:
    device = _photometer(sim_backend, absorbance=ABSORBANCE, transmittance=TRANSMITTANCE)

    reading = _measure(device)

    assert reading.values == {"absorbance": 0.4321, "transmittance": 36.97}
    assert reading.raw == {"absorbance": "+4.321E-01", "transmittance": "36.97"}


def test_a_reading_outside_its_range_is_reported_as_is_for_the_dispatcher_to_refuse(
    sim_backend: str,
) -> None:
    narrow: dict[str, JsonValue] = {"query": "MEAS:ABS?", "range": [-0.1, 0.3]}
    device = _photometer(sim_backend, absorbance=narrow)

    reading = _measure(device)

    assert reading.values == {"absorbance": 0.4321}
    assert device.measurands == {"absorbance": (-0.1, 0.3)}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SYST:STAT?", "dev-1: status: 'READY' is not a number (reply to 'SYST:STAT?')"),
        (
            "MEAS:OVER?",
            "dev-1: status: '9.9E37' is SCPI's over-range marker: the signal exceeds the range "
            "(reply to 'MEAS:OVER?')",
        ),
    ],
)
def test_a_reply_that_is_no_number_is_a_device_fault(
    sim_backend: str, query: str, expected: str
) -> None:
    device = _photometer(sim_backend, status={"query": query, "range": [0, 1]})

    with pytest.raises(DeviceFault) as caught:
        _measure(device)

    assert str(caught.value).startswith(expected)
    assert caught.value.command == query
    assert not caught.value.retryable


def test_heat_returns_once_the_temperature_is_within_tolerance(sim_backend: str) -> None:
    clock = LabClock()
    block = _block(sim_backend, clock)

    async def main() -> tuple[float, float]:
        reached = await block.heat("S1", 60.0)
        return reached, clock.now()

    reached, elapsed = on_clock(main, clock)

    assert reached == 60.0
    assert elapsed == 0.0  # pyvisa-sim's property reads back the setpoint at once


def test_heat_times_out_on_the_lab_clock_when_the_target_is_never_reached(
    sim_backend: str,
) -> None:
    clock = LabClock()
    block = _block(sim_backend, clock, poll_s=5, settle_timeout_s=60)

    with pytest.raises(DeviceTimeout) as caught:
        # 180 °C is accepted as a setpoint but is beyond what the heater reaches
        on_clock(lambda: block.heat("S1", 180.0), clock)

    assert clock.now() == 60.0
    assert caught.value.timeout_s == 60.0
    assert caught.value.retryable
    assert caught.value.command == "heat"
    assert str(caught.value).startswith(
        "dev-1: at 25 °C, not within 0.5 °C of 180 °C after 60 s; check that the instrument "
        "can reach that temperature"
    )


def test_a_refused_setpoint_is_a_fault_naming_the_scpi_error_and_the_command(
    sim_backend: str,
) -> None:
    clock = LabClock()
    block = _block(sim_backend, clock)

    with pytest.raises(ScpiError) as caught:
        on_clock(lambda: block.heat("S1", 250.0), clock)

    error = caught.value
    assert isinstance(error, DeviceFault)
    assert error.errors == ((-100, "Command error"),)
    assert error.command == "SOUR:TEMP 250.00"
    assert error.device == "dev-1"
    assert str(error).startswith(
        "dev-1: the instrument reported -100 'Command error' after 'SOUR:TEMP 250.00'; check "
    )
    # the queue was emptied: the next command is not blamed for the old error
    assert on_clock(lambda: block.heat("S1", 60.0), clock) == 60.0


def test_a_query_the_instrument_does_not_answer_is_a_timeout(
    sim_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    device = _photometer(sim_backend, fluorescence={"query": "MEAS:FLUO?", "range": [0, 1e6]})

    with pytest.raises(DeviceTimeout) as caught:
        _measure(device)

    assert caught.value.retryable
    assert caught.value.command == "MEAS:FLUO?"
    assert caught.value.timeout_s == 0.1
    assert str(caught.value).startswith(
        f"dev-1: no reply to 'MEAS:FLUO?' from {PHOTOMETER} within 100 ms; check that the "
        "instrument knows this query"
    )
    # The unknown query also queued -113. The session is reopened after a timeout and that stale
    # entry is logged, not blamed on the next command.
    assert isinstance(device, Stoppable)
    with caplog.at_level(logging.WARNING, logger="instruments.scpi.session"):
        on_clock(device.stop, LabClock())
    assert "error left in the queue from before this session: -113 Undefined header" in caplog.text


def test_stop_commands_are_checked_like_any_other(sim_backend: str) -> None:
    device = build(
        {"backend": sim_backend, "capabilities": ["stoppable"], "stop": ["ABOR", "LAMP OF"]},
        PHOTOMETER,
    )
    assert isinstance(device, Stoppable)

    with pytest.raises(ScpiError) as caught:
        on_clock(device.stop, LabClock())

    assert caught.value.errors == ((-113, "Undefined header"),)
    assert caught.value.command == "LAMP OF"


def test_without_an_error_query_rejected_commands_go_unnoticed(sim_backend: str) -> None:
    device = build(
        {
            "backend": sim_backend,
            "error_query": None,
            "capabilities": ["stoppable"],
            "stop": ["LAMP OF"],
        },
        PHOTOMETER,
    )
    assert isinstance(device, Stoppable)

    on_clock(device.stop, LabClock())  # what an instrument without an error queue allows


@pytest.mark.parametrize(
    ("error_query", "error", "expected"),
    [
        (
            "*IDN?",
            DeviceFault,
            "dev-1: 'CFL-SIM,PHOTOMETER-1,PH001,2.3' is not an error-queue entry "
            "'<code>,\"<description>\"', in reply to '*IDN?' after opening the session; set "
            "options.error_query to the instrument's error query, or null if it has none",
        ),
        (
            "SYST:ERROR?",
            DeviceTimeout,
            f"dev-1: no reply to 'SYST:ERROR?' from {PHOTOMETER} within 100 ms; set "
            "options.error_query to the instrument's error query, or null if it has none",
        ),
    ],
)
def test_a_wrong_error_query_is_named_with_the_fix(
    sim_backend: str, error_query: str, error: type[Exception], expected: str
) -> None:
    device = build(
        {
            "backend": sim_backend,
            "error_query": error_query,
            "timeout_ms": 100,
            "capabilities": ["measures"],
            "measure": {"quantities": {"absorbance": ABSORBANCE}},
        },
        PHOTOMETER,
    )

    with pytest.raises(error) as caught:
        _measure(device)  # type: ignore[arg-type]

    assert str(caught.value).startswith(expected)
