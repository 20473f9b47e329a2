"""CFL errors raised by a served device come back to the client as themselves, exactly once.

A scripted device implements every capability; what each command does is chosen by the sample id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from cfl.devices import Doses, Heats, Measures, Reacts, Reading, Stoppable, Transfers
from cfl.errors import (
    CFLError,
    DeviceDisconnected,
    DeviceFault,
    DeviceTimeout,
    ReadingOutOfRange,
    SafetyInterlock,
)
from cfl.space import ParamValue
from instruments.sila.client import SilaConnection
from instruments.sila.progress import TrackingClock
from tests.instruments.sila.conftest import Host, client, free_port

NAME = "scripted-1"
ALL = ["transfers", "reacts", "measures", "doses", "heats", "stoppable"]


class Scripted:
    """Every capability; the sample id says what happens (see ``_act``)."""

    measurands: ClassVar[Mapping[str, tuple[float, float]]] = {"signal": (0.0, 10.0)}

    def __init__(self, clock: TrackingClock) -> None:
        self.clock = clock
        self.stopped = False
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def _act(self, command: str, sample: str, *args: Any) -> None:
        self.calls.append((command, (sample, *args)))
        if sample == "fault":
            raise DeviceFault("scripted-1: column blocked", device=NAME, command=command)
        if sample == "flaky":
            raise DeviceFault(
                "scripted-1: lamp warming", device=NAME, command=command, retryable=True
            )
        if sample == "range":
            raise ReadingOutOfRange(
                "scripted-1: signal=-3 is impossible", device=NAME, command=command
            )
        if sample == "timeout":
            raise DeviceTimeout("scripted-1: gave up", device=NAME, command=command, timeout_s=42.0)
        if sample == "interlock":
            raise SafetyInterlock("scripted-1: door open", device=NAME, rule="door-closed")
        if sample == "bug":
            raise ZeroDivisionError("scripted-1 divided by zero")
        await self.clock.sleep({"slow": 3600, "medium": 500}.get(sample, 10))

    def expected_duration_s(self, command: str, arguments: Mapping[str, object]) -> float | None:
        """Says "medium" takes twice what it does, to show whose estimate the server uses."""
        return 1000.0 if arguments.get("sample") == "medium" else None

    async def pick(self, sample: str, location: str) -> None:
        await self._act("pick", sample, location)

    async def place(self, sample: str, location: str) -> None:
        await self._act("place", sample, location)

    async def react(self, sample: str, conditions: Mapping[str, ParamValue]) -> None:
        await self._act("react", sample, dict(conditions))

    async def measure(self, sample: str) -> Reading:
        await self._act("measure", sample)
        return Reading(values={"signal": 4.25}, raw={"trace": [1, 2, 3], "ok": True})

    async def dose(self, sample: str, reagent: str, amount: float) -> float:
        await self._act("dose", sample, reagent, amount)
        return amount * 0.98

    async def heat(self, sample: str, target_c: float) -> float:
        await self._act("heat", sample, target_c)
        return target_c - 0.5

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def scripted(host: Host) -> tuple[Scripted, Any]:
    clock = TrackingClock(speed=1000)
    device = Scripted(clock)
    server = host.device(device, NAME, clock)
    return device, client(NAME, server.address, ALL, measurands={"signal": [0, 10]})


def test_every_capability_round_trips(scripted: tuple[Scripted, Any]) -> None:
    device, remote = scripted
    assert all(
        isinstance(remote, p) for p in (Transfers, Reacts, Measures, Doses, Heats, Stoppable)
    )

    async def main() -> tuple[Reading, float, float]:
        await remote.pick("S1", "rack")
        await remote.place("S1", "station")
        await remote.react("S1", {"temperature": 80.0, "steps": 2, "solvent": "MeCN"})
        return (
            await remote.measure("S1"),
            await remote.dose("S1", "pyrrolidine", 1.5),
            await remote.heat("S1", 65.0),
        )

    reading, added, reached = asyncio.run(main())
    assert reading == Reading(values={"signal": 4.25}, raw={"trace": [1, 2, 3], "ok": True})
    assert (added, reached) == (1.5 * 0.98, 64.5)
    assert device.calls == [
        ("pick", ("S1", "rack")),
        ("place", ("S1", "station")),
        ("react", ("S1", {"temperature": 80.0, "steps": 2, "solvent": "MeCN"})),
        ("measure", ("S1",)),
        ("dose", ("S1", "pyrrolidine", 1.5)),
        ("heat", ("S1", 65.0)),
    ]
    assert [type(v) for v in device.calls[2][1][1].values()] == [float, int, str]


@pytest.mark.parametrize(
    ("sample", "kind", "message", "context"),
    [
        ("fault", DeviceFault, "scripted-1: column blocked", {"retryable": False}),
        ("flaky", DeviceFault, "scripted-1: lamp warming", {"retryable": True}),
        ("range", ReadingOutOfRange, "scripted-1: signal=-3 is impossible", {"retryable": True}),
        ("timeout", DeviceTimeout, "scripted-1: gave up", {"timeout_s": 42.0, "retryable": True}),
        ("interlock", SafetyInterlock, "scripted-1: door open", {"rule": "door-closed"}),
    ],
)
def test_a_cfl_error_comes_back_as_its_class_with_its_message(
    scripted: tuple[Scripted, Any],
    sample: str,
    kind: type[CFLError],
    message: str,
    context: dict[str, Any],
) -> None:
    _, remote = scripted
    with pytest.raises(kind) as caught:
        asyncio.run(remote.measure(sample))
    error = caught.value
    assert type(error) is kind and str(error) == message
    assert error.device == NAME  # type: ignore[attr-defined]
    for attribute, value in context.items():
        assert getattr(error, attribute) == value
    if kind is not SafetyInterlock:
        assert error.command == "measure"  # type: ignore[attr-defined]
    assert not isinstance(error.__cause__, CFLError)  # translated once, from the sila2 error


def test_an_error_a_command_does_not_define_arrives_as_its_base_class(
    scripted: tuple[Scripted, Any],
) -> None:
    _, remote = scripted
    with pytest.raises(DeviceFault) as caught:
        asyncio.run(remote.dose("range", "water", 1.0))  # Dose defines no ReadingOutOfRange
    assert type(caught.value) is DeviceFault
    assert str(caught.value) == "scripted-1: signal=-3 is impossible"
    assert caught.value.retryable and caught.value.command == "dose"


def test_a_device_bug_becomes_a_device_fault(scripted: tuple[Scripted, Any]) -> None:
    _, remote = scripted
    with pytest.raises(DeviceFault, match=r"ZeroDivisionError.*divided by zero") as caught:
        asyncio.run(remote.heat("bug", 50.0))
    assert type(caught.value) is DeviceFault and not caught.value.retryable


def test_stop_aborts_the_running_command(scripted: tuple[Scripted, Any]) -> None:
    device, remote = scripted

    async def main() -> None:
        dosing = asyncio.create_task(remote.dose("slow", "water", 1.0))  # 3.6 wall seconds
        await asyncio.sleep(0.3)
        await remote.stop()
        await dosing

    with pytest.raises(DeviceFault, match="aborted"):
        asyncio.run(asyncio.wait_for(main(), 3.0))
    assert device.stopped


def test_nothing_listening_is_a_retryable_disconnect_naming_the_address_and_fix() -> None:
    address = f"127.0.0.1:{free_port()}"
    remote = client("hplc-1", address, ["measures"])  # building it does no I/O
    with pytest.raises(DeviceDisconnected) as caught:
        asyncio.run(remote.measure("S1"))
    message = str(caught.value)
    assert address in message and "connection refused" in message
    assert "cfl sim serve" in message and "address" in message
    assert caught.value.retryable and caught.value.device == "hplc-1"


def test_a_server_without_the_declared_capability_is_named(host: Host) -> None:
    served = host.lab()
    remote = client("reactor-1", served.address("reactor-1"), ["measures"])
    with pytest.raises(DeviceFault, match=r"has no Measures\.Measure .*Reacts/v1"):
        asyncio.run(remote.measure("S1"))


def test_the_generic_connection_reads_and_calls_any_server(scripted: tuple[Scripted, Any]) -> None:
    device, remote = scripted
    connection = SilaConnection(remote.address, device=NAME)

    async def main() -> tuple[Any, Any]:
        name = await connection.get("SiLAService", "ServerName")
        await connection.call("Stoppable", "Stop")
        await connection.close()
        return name, device.stopped

    assert asyncio.run(main()) == (NAME, True)


def test_progress_follows_the_devices_own_duration_estimate(
    scripted: tuple[Scripted, Any],
) -> None:
    _, remote = scripted
    seen: list[float] = []
    remote.add_progress_listener(lambda _name, _command, fraction: seen.append(fraction))
    asyncio.run(remote.heat("medium", 40.0))  # 500 lab s of an estimated 1000: 0.5 s wall
    before_end = seen[:-1]
    assert len(before_end) >= 3 and seen[-1] == 1.0
    assert 0.3 < max(before_end) < 0.6  # elapsed / expected, not the clock's own sleep
