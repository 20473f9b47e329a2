"""Faults injected into a served simulator reach the client as they would from a real device."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cfl.devices import Measures, Reading
from cfl.errors import DeviceDisconnected, DeviceTimeout
from cfl.faults import OUT_OF_RANGE_VALUE
from instruments.sila.client import SilaConnection
from instruments.sim.hplc import SimHPLC
from tests.instruments.sila.conftest import DEMO_DEVICES, Host, Served, load_hplc


def _with_fault(host: Host, kind: str, **lab: Any) -> tuple[Served, Measures]:
    devices = dict(DEMO_DEVICES)
    devices["hplc-1"] = {**devices["hplc-1"], "faults": [{"kind": kind, "command": "measure"}]}
    served = host.lab(devices, **lab)
    assert served.lab is not None
    load_hplc(served.lab)
    hplc = served.client("hplc-1")
    assert isinstance(hplc, Measures)
    return served, hplc


def test_timeout_arrives_as_device_timeout(host: Host) -> None:
    _, hplc = _with_fault(host, "timeout")
    with pytest.raises(DeviceTimeout) as caught:
        asyncio.run(hplc.measure("S1"))
    error = caught.value
    assert str(error) == "hplc-1: measure timed out inside the device (injected fault)"
    assert (error.device, error.command, error.timeout_s, error.retryable) == (
        "hplc-1",
        "measure",
        390.0,
        True,
    )


def test_out_of_range_arrives_as_an_absurd_reading_for_the_orchestrator_to_refuse(
    host: Host,
) -> None:
    _, hplc = _with_fault(host, "out_of_range")
    reading = asyncio.run(hplc.measure("S1"))
    assert set(reading.values) == set(SimHPLC.measurands)
    assert set(reading.values.values()) == {OUT_OF_RANGE_VALUE}
    for name, value in reading.values.items():
        low, _ = hplc.measurands[name]  # type: ignore[attr-defined]
        assert value < low


def test_disconnect_breaks_the_call_and_the_device_comes_back(host: Host) -> None:
    _, hplc = _with_fault(host, "disconnect", reconnect_after_s=0.2)

    async def main() -> Reading:
        with pytest.raises(DeviceDisconnected) as caught:
            await hplc.measure("S1")
        assert caught.value.retryable and caught.value.device == "hplc-1"
        assert "hplc-1 at 127.0.0.1:" in str(caught.value)
        deadline = time.monotonic() + 10
        while True:  # what the dispatcher's retry does, after its back-off
            try:
                return await hplc.measure("S1")
            except DeviceDisconnected:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    reading = asyncio.run(main())
    assert 0 < reading.values["yield"] < 100  # the fault fired once; the retry measured


def test_hang_never_completes_and_only_a_client_deadline_ends_it(host: Host) -> None:
    served, hplc = _with_fault(host, "hang")
    status = SilaConnection(served.address("hplc-1"), device="hplc-1")

    async def main() -> object:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(hplc.measure("S1"), 1.0)  # 5x the run time at this speed
        busy = await status.get("DeviceInfo", "Status")
        await status.close()
        return busy

    assert asyncio.run(main()) == "busy"  # still hung; stopping the server (teardown) aborts it
