"""Fixtures for the SCPI driver: the pyvisa-sim bench, the TCP wire server, and building devices."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext
from instruments.scpi.driver import ScpiInstrument
from tests.instruments.scpi.wire import WireInstrument

HERE = Path(__file__).resolve().parent
BLOCK = "TCPIP0::192.168.0.40::5025::SOCKET"
PHOTOMETER = "USB0::0x1234::0x5678::PH001::INSTR"

T = TypeVar("T")


@pytest.fixture
def sim_backend(tmp_path: Path) -> str:
    """The pyvisa-sim backend on a private copy of ``benchtop.yaml``.

    PyVISA keeps one library, and so one simulated state, per backend path for the whole process;
    a copy per test keeps one test's setpoints and error queues out of the next.
    """
    path = tmp_path / "benchtop.yaml"
    shutil.copy(HERE / "benchtop.yaml", path)
    return f"{path}@sim"


@pytest.fixture
def wire() -> Iterator[WireInstrument]:
    """The TCP SCPI server, stopped (connections closed, thread joined) after the test."""
    server = WireInstrument().start()
    try:
        yield server
    finally:
        server.stop()


def build(
    options: Mapping[str, JsonValue],
    address: str | None,
    *,
    clock: LabClock | None = None,
    name: str = "dev-1",
) -> ScpiInstrument:
    """An SCPI device built as a lab builds it."""
    context = DeviceContext(clock=clock or LabClock(), bench=Bench({}), seed=0, address=address)
    return ScpiInstrument.from_config(name, options, context)


def on_clock(main: Callable[[], Awaitable[T]], clock: LabClock) -> T:
    """Run ``main`` on a virtual lab clock: polling waits take no real time."""
    return run_on_clock(main, clock=clock, kind="virtual")
