"""``driver: sila``: built from a lab file without I/O, with exactly the declared capabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext, Doses, Heats, Measures, Reacts, Stoppable, Transfers
from cfl.errors import SpecError
from cfl.lab import Lab
from cfl.registry import load_plugin
from instruments.sila.driver import SilaDevice, composed
from tests.instruments.sila.conftest import MEASURANDS, free_port, lab_spec

PROTOCOLS = {
    "transfers": Transfers,
    "reacts": Reacts,
    "measures": Measures,
    "doses": Doses,
    "heats": Heats,
    "stoppable": Stoppable,
}


def _build(options: dict[str, JsonValue], address: str | None = "127.0.0.1:50052") -> Any:
    context = DeviceContext(clock=LabClock(), bench=Bench({}), seed=0, address=address)
    return SilaDevice.from_config("dev-1", options, context)


@pytest.mark.parametrize(
    "capabilities", [["transfers"], ["reacts"], ["measures"], ["doses", "heats", "stoppable"]]
)
def test_the_built_device_has_exactly_its_declared_capabilities(capabilities: list[str]) -> None:
    options: dict[str, JsonValue] = {"capabilities": list(capabilities)}
    if "measures" in capabilities:
        options["measurands"] = MEASURANDS
    device = _build(options)
    for name, protocol in PROTOCOLS.items():
        assert isinstance(device, protocol) == (name in capabilities), name
    assert type(device) is composed(tuple(capabilities))  # one class per capability set
    assert dict(device.measurands) == (
        {k: tuple(v) for k, v in MEASURANDS.items()} if "measures" in capabilities else {}  # type: ignore[arg-type]
    )


def test_the_entry_point_builds_it_from_a_lab_file_without_connecting() -> None:
    assert load_plugin("cfl.devices", "sila") is SilaDevice
    port = free_port()  # nothing listens there: building must not notice
    spec = lab_spec(
        {
            "hplc-1": {
                "driver": "sila",
                "role": "hplc",
                "address": f"127.0.0.1:{port}",
                "options": {"capabilities": ["measures"], "measurands": MEASURANDS},
            }
        }
    )
    device = Lab.build(spec, clock=LabClock(), seed=0).devices["hplc-1"]
    assert isinstance(device, Measures) and not isinstance(device, Transfers)


@pytest.mark.parametrize(
    ("options", "address", "message"),
    [
        (
            {"capabilities": ["measures"]},
            "127.0.0.1:1",
            "measurands: a measuring device needs them",
        ),
        ({"capabilities": []}, "127.0.0.1:1", "capabilities"),
        ({"capabilities": ["teleports"]}, "127.0.0.1:1", "capabilities.0"),
        (
            {"capabilities": ["reacts", "reacts"]},
            "127.0.0.1:1",
            "capabilities: one is listed twice",
        ),
        (
            {"capabilities": ["reacts"], "measurands": MEASURANDS},
            "127.0.0.1:1",
            "measurands: given, but capabilities lack 'measures'",
        ),
        (
            {"capabilities": ["measures"], "measurands": {"yield": [110, -10]}},
            "127.0.0.1:1",
            "low must be less than high",
        ),
        ({"capabilities": ["reacts"]}, None, "add address: HOST:PORT"),
        ({"capabilities": ["reacts"]}, "localhost", "'localhost' is not host:port"),
        ({"capabilities": ["reacts"]}, "127.0.0.1:99999", "is not host:port"),
    ],
)
def test_bad_options_name_the_device_and_the_fix(
    options: dict[str, JsonValue], address: str | None, message: str
) -> None:
    with pytest.raises(SpecError, match="dev-1") as caught:
        _build(options, address)
    assert message in str(caught.value)


def test_a_virtual_clock_lab_is_told_to_use_the_wall_clock() -> None:
    device = _build({"capabilities": ["reacts"]})
    clock = LabClock()
    with pytest.raises(SpecError, match="set clock: wall"):
        run_on_clock(lambda: device.react("S1", {}), clock=clock, kind="virtual")


def test_a_virtual_clock_lab_with_a_sila_device_is_refused_when_the_spec_is_checked(
    tmp_path: Path,
) -> None:
    from cfl.spec import load_spec
    from tests.conftest import demo_spec_data, write_spec

    data = demo_spec_data()
    data["lab"]["devices"]["hplc-1"] = {
        "driver": "sila", "role": "hplc", "address": "127.0.0.1:50999",
        "options": {"capabilities": ["measures"], "measurands": {"yield": [-10, 110],
                                                                  "e_factor": [0, 1000]}},
    }
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path, data))
    assert info.value.field == "lab.clock"
    assert "set clock: wall" in str(info.value)
