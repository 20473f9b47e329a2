"""The wire shapes: conditions, readings and CFL errors survive the trip through SiLA 2 values."""

from __future__ import annotations

import math
from collections import namedtuple

import pytest

from cfl.devices import Reading
from cfl.errors import (
    CFLError,
    DeviceFault,
    DeviceTimeout,
    ReadingOutOfRange,
    SafetyInterlock,
)
from instruments.sila.codec import (
    conditions_from_wire,
    conditions_to_wire,
    error_from_wire,
    error_identifier,
    error_to_wire,
    reading_from_wire,
    reading_to_wire,
)

Condition = namedtuple("Condition", "Name Kind Real Integer Text")
Quantity = namedtuple("Quantity", "Name Value")


def test_conditions_keep_their_types() -> None:
    conditions = {"temperature": 90.5, "steps": 3, "solvent": "EtOH"}
    wire = conditions_to_wire(conditions)
    assert [w["Kind"] for w in wire] == ["Real", "Integer", "Text"]
    back = conditions_from_wire([Condition(**w) for w in wire])
    assert back == conditions
    assert [type(v) for v in back.values()] == [float, int, str]


def test_reading_round_trip_keeps_values_and_raw() -> None:
    reading = Reading(
        values={"yield": 83.1, "e_factor": 12.0}, raw={"ortho_m": 0.25, "peaks": [1, 2]}
    )
    wire = reading_to_wire(reading)
    back = reading_from_wire([Quantity(**q) for q in wire["Values"]], wire["Raw"])
    assert back == reading


def test_raw_that_is_not_a_json_object_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        reading_from_wire([], "[1, 2]")


@pytest.mark.parametrize(
    "error",
    [
        DeviceFault("hplc-1: column blocked", device="srv", command="measure"),
        DeviceFault("hplc-1: lamp warming up", device="srv", command="measure", retryable=True),
        ReadingOutOfRange("hplc-1: yield=-1e6 is impossible", device="srv", command="measure"),
        DeviceTimeout("hplc-1: measure timed out", device="srv", command="measure", timeout_s=390),
        SafetyInterlock("reactor-1: door open", device="srv", rule="door-closed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_each_cfl_error_comes_back_as_itself(error: CFLError) -> None:
    identifier = error_identifier(
        error, {"DeviceFault", "ReadingOutOfRange", "DeviceTimeout", "SafetyInterlock"}
    )
    assert identifier == type(error).__name__
    back = error_from_wire(identifier, error_to_wire(error), device="hplc-1", command="measure")
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.device == "hplc-1"  # type: ignore[attr-defined]  # named as the client knows it
    for attribute in ("command", "retryable", "timeout_s", "rule"):
        assert getattr(back, attribute, None) == getattr(error, attribute, None)


def test_a_subclass_goes_as_its_base_where_the_command_lacks_it() -> None:
    error = ReadingOutOfRange("odd", device="d", command="pick")
    assert error_identifier(error, {"DeviceFault", "DeviceTimeout"}) == "DeviceFault"
    assert error_identifier(RuntimeError("x"), {"DeviceFault"}) is None


def test_a_plain_message_from_a_foreign_server_is_kept_as_it_is() -> None:
    back = error_from_wire("DeviceTimeout", "pump stalled", device="pump-1", command="dose")
    assert isinstance(back, DeviceTimeout)
    assert str(back) == "pump stalled"
    assert back.command == "dose" and back.retryable and math.isnan(back.timeout_s)
