"""Each feature over gRPC on loopback does what calling the device directly does, to the number."""

from __future__ import annotations

import asyncio

from cfl.clock import LabClock, run_on_clock
from cfl.devices import Measures, Reacts, Reading, Transfers
from cfl.lab import Lab
from instruments.sila.client import SilaConnection
from instruments.sila.server import capabilities_of
from instruments.sim.hplc import SimHPLC
from tests.instruments.sila.conftest import CONDITIONS, DEMO_DEVICES, Host, lab_spec, load_hplc


async def _protocol(robot: object, reactor: object, hplc: object, sample: str) -> Reading:
    """The demo protocol for one sample: rack -> reactor -> HPLC -> archive."""
    assert isinstance(robot, Transfers)
    assert isinstance(reactor, Reacts)
    assert isinstance(hplc, Measures)
    await robot.pick(sample, "rack")
    await robot.place(sample, "reactor-1")
    await reactor.react(sample, CONDITIONS)
    await robot.pick(sample, "reactor-1")
    await robot.place(sample, "hplc-1")
    reading = await hplc.measure(sample)
    await robot.pick(sample, "hplc-1")
    await robot.place(sample, "archive")
    return reading


def test_the_protocol_over_sila_matches_the_devices_called_directly(host: Host) -> None:
    served = host.lab(seed=7)
    clients = [served.client(name) for name in ("kapex-1", "reactor-1", "hplc-1")]
    over_wire = asyncio.run(_protocol(*clients, "S1"))

    clock = LabClock()
    direct = Lab.build(lab_spec(DEMO_DEVICES), clock=clock, seed=7)
    devices = [direct.devices[name] for name in ("kapex-1", "reactor-1", "hplc-1")]
    expected = run_on_clock(lambda: _protocol(*devices, "S1"), clock=clock, kind="virtual")

    assert over_wire == expected  # same seeded HPLC noise, same model: identical numbers
    assert served.lab is not None
    wire_vial, direct_vial = served.lab.bench.sample("S1"), direct.bench.sample("S1")
    assert (wire_vial.location, wire_vial.held_by) == ("archive", None)
    assert wire_vial.charge == direct_vial.charge == CONDITIONS
    assert wire_vial.contents == direct_vial.contents
    assert served.clock.now() >= clock.now()  # the served bench spent at least the lab time


def test_each_server_implements_exactly_its_devices_features(host: Host) -> None:
    served = host.lab()
    assert served.lab is not None

    async def implemented(name: str) -> set[str]:
        connection = SilaConnection(served.address(name), device=name)
        try:
            return set(await connection.get("SiLAService", "ImplementedFeatures"))
        finally:
            await connection.close()

    expected = {"kapex-1": "Transfers", "reactor-1": "Reacts", "hplc-1": "Measures"}
    for name, feature in expected.items():
        assert [c.protocol.__name__ for c in capabilities_of(served.lab.devices[name])] == [feature]
        assert asyncio.run(implemented(name)) == {
            "org.silastandard/core/SiLAService/v1",
            "com.kapex/cfl/DeviceInfo/v1",
            f"com.kapex/cfl/{feature}/v1",
        }


def test_progress_of_an_observable_command_reaches_the_client(host: Host) -> None:
    served = host.lab(speed=600)  # the 390 s HPLC run takes 0.65 s
    assert served.lab is not None
    load_hplc(served.lab)
    seen: list[float] = []
    connection = SilaConnection(served.address("hplc-1"), device="hplc-1", poll_s=0.05)

    async def measure() -> object:
        try:
            return await connection.run("Measures", "Measure", on_progress=seen.append, Sample="S1")
        finally:
            await connection.close()

    asyncio.run(measure())
    running = [p for p in seen if 0 < p < 1]
    assert len(running) >= 3, seen
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_a_device_passes_progress_to_its_listeners(host: Host) -> None:
    served = host.lab(speed=600)
    assert served.lab is not None
    load_hplc(served.lab)
    hplc = served.client("hplc-1", poll_s=0.05)
    seen: list[tuple[str, str, float]] = []
    hplc.add_progress_listener(lambda *event: seen.append(event))
    assert isinstance(hplc, Measures)
    asyncio.run(hplc.measure("S1"))
    assert {(name, command) for name, command, _ in seen} == {("hplc-1", "measure")}
    assert len(seen) >= 3 and seen[-1][2] == 1.0


def test_properties_describe_the_device_and_status_follows_its_work(host: Host) -> None:
    served = host.lab(speed=600)
    assert served.lab is not None
    load_hplc(served.lab)
    connection = SilaConnection(served.address("hplc-1"), device="hplc-1")

    async def main() -> tuple[list[object], object, list[str]]:
        info = [
            await connection.get("DeviceInfo", name)
            for name in ("DeviceName", "DeviceKind", "Capabilities", "Status")
        ]
        measurands = await connection.get("Measures", "Measurands")
        run = asyncio.create_task(connection.run("Measures", "Measure", Sample="S1"))
        statuses = []
        while not run.done():
            statuses.append(await connection.get("DeviceInfo", "Status"))
            await asyncio.sleep(0.05)
        await run
        statuses.append(await connection.get("DeviceInfo", "Status"))
        await connection.close()
        return info, measurands, statuses

    info, measurands, statuses = asyncio.run(main())
    assert info == ["hplc-1", "SimHPLC", ["Measures"], "idle"]
    assert {m.Name: (m.Low, m.High) for m in measurands} == dict(SimHPLC.measurands)  # type: ignore[attr-defined]
    assert "busy" in statuses and statuses[-1] == "idle"
