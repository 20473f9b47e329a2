"""The UV-Vis spectrometer, the plate reader and the balance, served over SiLA 2.

Same seed, same sample, same bench state: the reading over the wire equals the reading from the
device called directly, spectrum and all 96 wells included.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import JsonValue

from cfl.clock import LabClock, run_on_clock
from cfl.devices import Measures, Reading
from cfl.lab import Lab
from instruments.sila.driver import SilaDevice
from instruments.sim.plate_reader import fill_plate
from tests.instruments.sila.conftest import Host, client, lab_spec

DEVICES: dict[str, Any] = {
    "uvvis-1": {"driver": "sim-uvvis", "role": "uvvis"},
    "plate-1": {"driver": "sim-plate-reader", "role": "plates"},
    "balance-1": {"driver": "sim-balance", "role": "balance"},
}
VIAL = {"ortho": 0.3, "dfnb": 0.01}


def _load(lab: Lab) -> None:
    """A reaction vial into the spectrometer and another onto the balance; a plate in the reader."""
    bench = lab.bench
    for sample, station in (("V1", "uvvis-1"), ("V2", "balance-1")):
        vial = bench.take(sample, "rack", robot="hand")
        vial.contents = dict(VIAL)
        bench.put(sample, station, robot="hand")
    plate = bench.take("P1", "rack", robot="hand")
    fill_plate(plate, {"A01": {"ortho": 1e-5}, "B02": {"ortho": 2e-5}, "H12": {}})
    bench.put("P1", "plate-1", robot="hand")


async def _measure_all(devices: dict[str, object]) -> dict[str, Reading]:
    readings = {}
    for name, sample in (("uvvis-1", "V1"), ("plate-1", "P1"), ("balance-1", "V2")):
        device = devices[name]
        assert isinstance(device, Measures)
        readings[name] = await device.measure(sample)
    return readings


def test_new_instruments_read_the_same_over_sila_as_directly(host: Host) -> None:
    served = host.lab(DEVICES, seed=11)
    assert served.lab is not None
    _load(served.lab)
    clients: dict[str, object] = {}
    for name in DEVICES:
        measurands: dict[str, JsonValue] = {
            quantity: list(bounds)
            for quantity, bounds in served.lab.devices[name].measurands.items()  # type: ignore[attr-defined]
        }
        clients[name] = client(name, served.address(name), ["measures"], measurands=measurands)
    over_wire = asyncio.run(_measure_all(clients))

    clock = LabClock()
    direct = Lab.build(lab_spec(DEVICES), clock=clock, seed=11)
    _load(direct)
    expected = run_on_clock(lambda: _measure_all(dict(direct.devices)), clock=clock, kind="virtual")

    for name in ("uvvis-1", "plate-1"):
        assert over_wire[name] == expected[name]
    # the balance drifts with the time since its tare, which the served (wall) clock and the
    # direct (virtual) clock count differently; the reading itself agrees to its readability
    assert over_wire["balance-1"].values == expected["balance-1"].values
    spectrum = over_wire["uvvis-1"].raw
    assert len(spectrum["wavelength_nm"]) == len(spectrum["absorbance"]) > 100  # type: ignore[arg-type]
    assert len([w for w in over_wire["plate-1"].values if len(w) == 3]) == 96
    assert over_wire["balance-1"].values["mass_g"] > 0
    for device in clients.values():
        assert isinstance(device, SilaDevice)
