"""Serve simulated labs and test devices on 127.0.0.1 for the SiLA 2 tests; all stopped after."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock
from cfl.devices import DeviceContext
from cfl.lab import Lab, LabSpec
from cfl.wire.loop import DeviceLoop
from instruments.sila.driver import SilaDevice
from instruments.sila.progress import TrackingClock
from instruments.sila.server import DeviceServer
from instruments.sim.snar import SnarConditions, simulate_snar

SPEED = 2000.0
"""Lab seconds per wall second for served simulators: an HPLC run (390 s) takes 0.2 s."""

MEASURANDS: dict[str, JsonValue] = {
    "yield": [-10, 110],
    "conversion": [-10, 110],
    "space_time_yield": [0, 1e5],
    "e_factor": [0, 1000],
}

DEMO_DEVICES: dict[str, Any] = {
    "reactor-1": {"driver": "sim-flow-reactor", "role": "reactor"},
    "hplc-1": {"driver": "sim-hplc", "role": "hplc"},
    "kapex-1": {"driver": "sim-kapex", "role": "robot", "options": {"home": "rack"}},
}
CAPABILITIES = {"reactor-1": ["reacts"], "hplc-1": ["measures"], "kapex-1": ["transfers"]}


CONDITIONS: dict[str, float | int | str] = {
    "residence_time": 1.0,
    "equivalents": 2.0,
    "concentration": 0.3,
    "temperature": 90.0,
}
SPECIES = ("dfnb", "pyrrolidine", "ortho", "para", "bis")


def free_port() -> int:
    """A port nothing listens on right now (bound to port 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def lab_spec(devices: Mapping[str, Any], name: str = "sila-test-lab") -> LabSpec:
    return LabSpec.model_validate(
        {
            "name": name,
            "clock": "wall",
            "locations": {"rack": {"supply": True}, "archive": {}},
            "devices": dict(devices),
        }
    )


def client(name: str, address: str, capabilities: list[str], **options: JsonValue) -> SilaDevice:
    """A ``driver: sila`` device for ``name`` at ``address``, built as a lab file would."""
    opts: dict[str, JsonValue] = {"capabilities": list(capabilities), **options}
    if "measures" in capabilities and "measurands" not in opts:
        opts["measurands"] = MEASURANDS
    context = DeviceContext(clock=LabClock(), bench=Bench({}), seed=0, address=address)
    return SilaDevice.from_config(name, opts, context)


def load_hplc(served_lab: Lab, sample: str = "S1") -> None:
    """Put a vial made at CONDITIONS into the HPLC, by hand."""
    bench = served_lab.bench
    vial = bench.take(sample, "rack", robot="hand")
    vial.charge = dict(CONDITIONS)
    vial.contents = dict(
        zip(SPECIES, simulate_snar(SnarConditions(1.0, 2.0, 0.3, 90.0)), strict=True)
    )
    bench.put(sample, "hplc-1", robot="hand")


@dataclass
class Served:
    """A lab whose devices run on one loop, each served on its own port."""

    lab: Lab | None
    clock: TrackingClock
    loop: DeviceLoop
    servers: dict[str, DeviceServer] = field(default_factory=dict)

    def address(self, name: str) -> str:
        return self.servers[name].address

    def client(self, name: str, **options: JsonValue) -> SilaDevice:
        return client(name, self.address(name), CAPABILITIES[name], **options)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.loop.stop()


class Host:
    """Starts served labs and single devices; stops them all at teardown."""

    def __init__(self) -> None:
        self._served: list[Served] = []

    def lab(
        self,
        devices: Mapping[str, Any] = DEMO_DEVICES,
        *,
        seed: int = 1,
        speed: float = SPEED,
        reconnect_after_s: float = 0.2,
    ) -> Served:
        clock = TrackingClock(speed=speed)
        lab = Lab.build(lab_spec(devices), clock=clock, seed=seed)
        served = Served(lab=lab, clock=clock, loop=DeviceLoop(clock).start())
        self._served.append(served)
        for name, device in lab.devices.items():
            server = DeviceServer(
                device, name=name, loop=served.loop, reconnect_after_s=reconnect_after_s
            )
            served.servers[name] = server.start("127.0.0.1", free_port())
        return served

    def device(self, device: object, name: str, clock: TrackingClock) -> DeviceServer:
        """Serve one device object built on ``clock``."""
        served = Served(lab=None, clock=clock, loop=DeviceLoop(clock).start())
        self._served.append(served)
        served.servers[name] = DeviceServer(device, name=name, loop=served.loop).start(
            "127.0.0.1", free_port()
        )
        return served.servers[name]

    def close(self) -> None:
        for served in reversed(self._served):
            served.stop()


@pytest.fixture
def host() -> Iterator[Host]:
    h = Host()
    yield h
    h.close()
