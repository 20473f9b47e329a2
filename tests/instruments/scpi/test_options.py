"""Building an SCPI device: option checks, exact capabilities, measurands, and no I/O."""

from __future__ import annotations

from typing import Any

import pytest
import pyvisa
import yaml
from pydantic import JsonValue

from cfl.clock import LabClock
from cfl.devices import Doses, Heats, Measures, Reacts, Stoppable, Transfers
from cfl.errors import SpecError
from cfl.lab import Lab, LabSpec
from instruments.scpi.driver import ScpiInstrument, instrument_class
from tests.instruments.scpi.conftest import BLOCK, build

HEAT: dict[str, JsonValue] = {"set": "SOUR:TEMP {target_c:.2f}", "read": "MEAS:TEMP?"}
MEASURE: dict[str, JsonValue] = {
    "quantities": {"absorbance": {"query": "MEAS:ABS?", "range": [-0.1, 4.0]}}
}
FULL: dict[str, JsonValue] = {
    "capabilities": ["heats", "measures", "stoppable"],
    "heat": HEAT,
    "measure": MEASURE,
    "stop": ["OUTP OFF"],
}
CAPABILITY_PROTOCOLS = (Measures, Heats, Stoppable, Reacts, Transfers, Doses)

LAB_FILE = """
name: scpi-lab
devices:
  block-1:
    driver: scpi
    role: heater
    address: "TCPIP0::192.168.0.40::5025::SOCKET"
    options:
      backend: "@py"
      read_termination: "\\n"
      write_termination: "\\n"
      timeout_ms: 2000
      capabilities: [heats, measures]
      heat: {set: "SOUR:TEMP {target_c:.2f}", read: "MEAS:TEMP?", tolerance_c: 0.5, poll_s: 5,
             settle_timeout_s: 1800}
      measure: {quantities: {absorbance: {query: "MEAS:ABS?", range: [-0.1, 4.0]}}}
"""


def _protocols(device: object) -> set[str]:
    return {p.__name__ for p in CAPABILITY_PROTOCOLS if isinstance(device, p)}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"capabilities": ["measures"], "measure": MEASURE}, {"Measures"}),
        ({"capabilities": ["heats"], "heat": HEAT}, {"Heats"}),
        ({"capabilities": ["stoppable"], "stop": ["ABOR"]}, {"Stoppable"}),
        (FULL, {"Measures", "Heats", "Stoppable"}),
    ],
)
def test_the_device_has_exactly_the_declared_capabilities(
    options: dict[str, JsonValue], expected: set[str]
) -> None:
    device = build(options, BLOCK)

    assert _protocols(device) == expected
    assert isinstance(device, ScpiInstrument)


def test_one_class_per_capability_set_named_after_it() -> None:
    a = build(FULL, BLOCK)
    b = build({**FULL, "capabilities": ["stoppable", "measures", "heats"]}, BLOCK)

    assert type(a) is type(b) is instrument_class(frozenset({"measures", "heats", "stoppable"}))
    assert type(a).__name__ == "ScpiMeasuresHeatsStoppable"


def test_measurands_are_the_configured_ranges_and_empty_without_measuring() -> None:
    measuring = build(
        {
            "capabilities": ["measures"],
            "measure": {
                "quantities": {
                    "absorbance": {"query": "MEAS:ABS?", "range": [-0.1, 4.0]},
                    "transmittance": {"query": "MEAS:TRAN?", "range": [0, 100]},
                }
            },
        },
        BLOCK,
    )
    heating = build({"capabilities": ["heats"], "heat": HEAT}, BLOCK)

    assert dict(measuring.measurands) == {"absorbance": (-0.1, 4.0), "transmittance": (0, 100)}
    assert dict(heating.measurands) == {}


def test_building_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("from_config must not open a VISA resource manager")

    monkeypatch.setattr(pyvisa, "ResourceManager", refuse)

    device = build(FULL, "TCPIP0::192.0.2.1::5025::SOCKET")  # TEST-NET-1: routes nowhere

    assert device.address == "TCPIP0::192.0.2.1::5025::SOCKET"


def test_a_lab_file_builds_the_driver_through_its_entry_point() -> None:
    spec = LabSpec.model_validate(yaml.safe_load(LAB_FILE))

    lab = Lab.build(spec, clock=LabClock(), seed=0)

    device = lab.devices["block-1"]
    assert _protocols(device) == {"Heats", "Measures"}
    assert device.measurands == {"absorbance": (-0.1, 4.0)}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"heat": HEAT}, "capabilities: Field required"),
        ({"capabilities": []}, "capabilities: List should have at least 1 item"),
        ({"capabilities": ["cooks"], "heat": HEAT}, "capabilities.0: Input should be 'measures'"),
        ({"capabilities": ["heats", "heats"], "heat": HEAT}, "names a capability twice"),
        ({"capabilities": ["heats"]}, "capability 'heats' needs a 'heat' section, e.g. heat: {"),
        (
            {"capabilities": ["measures"], "measure": MEASURE, "heat": HEAT},
            "'heat' is given but 'heats' is not in capabilities; add it or remove 'heat'",
        ),
        (
            {"capabilities": ["heats"], "heat": {**HEAT, "set": "SOUR:TEMP {temp:.1f}"}},
            "heat.set: 'SOUR:TEMP {temp:.1f}' must hold the placeholder {target_c} and no other, "
            "got ['temp']",
        ),
        (
            {"capabilities": ["heats"], "heat": {**HEAT, "set": "SOUR:TEMP {target_c:.2q}"}},
            "heat.set: 'SOUR:TEMP {target_c:.2q}' cannot be formatted with a number",
        ),
        (
            {"capabilities": ["heats"], "heat": {**HEAT, "poll_s": 0}},
            "heat.poll_s: Input should be greater than 0",
        ),
        (
            {
                "capabilities": ["measures"],
                "measure": {"quantities": {"absorbance": {"query": "A?", "range": [4, -0.1]}}},
            },
            "measure.quantities.absorbance.range: low must be less than high, got [4, -0.1]; "
            "swap the bounds",
        ),
        (
            {"capabilities": ["measures"], "measure": {"quantities": {}}},
            "measure.quantities: Dictionary should have at least 1 item",
        ),
        ({**FULL, "timeout": 2000}, "timeout: Extra inputs are not permitted"),
        ({**FULL, "timeout_ms": 0}, "timeout_ms: Input should be greater than 0"),
        ({**FULL, "stop": []}, "stop: List should have at least 1 item"),
        (
            {**FULL, "backend": "@nosuch"},
            "backend: backend '@nosuch' needs the package pyvisa_nosuch, which is not installed; "
            "install it (pip install pyvisa-nosuch) or use '@py'",
        ),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    options: dict[str, JsonValue], expected: str
) -> None:
    with pytest.raises(SpecError) as caught:
        build(options, BLOCK, name="block-1")

    assert str(caught.value).startswith("device 'block-1' has bad options: ")
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (None, "device 'block-1' has no address; give its VISA resource string, e.g. address:"),
        (
            "TCPIP0::192.168.0.40::SOCKET",
            "device 'block-1' has a bad address 'TCPIP0::192.168.0.40::SOCKET': Could not parse",
        ),
    ],
)
def test_a_missing_or_malformed_address_is_refused(address: str | None, expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        build(FULL, address, name="block-1")

    assert str(caught.value).startswith(expected)
