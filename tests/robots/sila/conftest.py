"""Serve simulated KAPEX robots on 127.0.0.1 for the SiLA 2 robot tests; all stopped after.

Each served robot is built as ``cfl sim serve`` builds one: a ``driver: kapex`` device on
``transport: sim`` (its simulator on a sped-up :class:`TrackingClock` and a bench), served by the
hook the CLI calls (:func:`robots.sila.server.serve_device`) on its own :class:`DeviceLoop`. The
client side runs on the wall clock, as a lab with ``transport: sila`` must.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext
from cfl.wire.loop import DeviceLoop
from instruments.sila.progress import TrackingClock
from robots.kapex.client import KapexClient
from robots.kapex.driver import KapexDriver
from robots.kapex.options import KapexOptions
from robots.kapex.transport import resolve_transport
from robots.messages import Feedback
from robots.sila.server import RobotServer, serve_device
from robots.sila.transport import SilaTransport, SilaTransportOptions
from robots.sim.kinematic import KinematicSim
from tests.instruments.sila.conftest import free_port
from tests.robots.rig import NAME, SERIAL, MemorySink, options

T = TypeVar("T")

SPEED = 600.0
"""Lab seconds per wall second: an 8 s pick takes 13 ms, a 20 s walk 33 ms."""
SLOW = 20.0
"""For tests that act mid-motion: a 20 s walk takes a second, ample on a busy machine."""

OWNER = "cfl/KIST-Seoul/team-7/kapex-1"


def _bench() -> Bench:
    bench = Bench({"rack": None, "archive": None}, supplies=frozenset({"rack"}))
    for station in ("reactor-1", "hplc-1"):
        bench.add_location(station, 1)
    return bench


@dataclass
class ServedRobot:
    """A simulated KAPEX on its own sped-up clock and bench, served on a free port."""

    server: RobotServer
    loop: DeviceLoop
    bench: Bench
    speed: float
    clients: list[SilaTransport] = field(default_factory=list)

    @property
    def robot(self) -> KinematicSim:
        return self.server.robot

    @property
    def address(self) -> str:
        return self.server.address

    def transport(self, **options: float) -> SilaTransport:
        """Another connection to the robot (closed at teardown)."""
        self.clients.append(SilaTransport(NAME, self.address, SilaTransportOptions(**options)))
        return self.clients[-1]

    def stop(self) -> None:
        self.server.stop()
        self.loop.stop()


class Hosting:
    """Serves robots; stops them all at teardown."""

    def __init__(self) -> None:
        self._served: list[ServedRobot] = []

    def robot(self, *, speed: float = SPEED, seed: int = 1, **changes: JsonValue) -> ServedRobot:
        clock = TrackingClock(speed=speed)
        bench = _bench()
        context = DeviceContext(clock=clock, bench=bench, seed=seed)
        device = KapexDriver(
            NAME,
            KapexOptions.model_validate(options(**changes)),
            context,
            resolve_transport("sim"),
        )
        loop = DeviceLoop(clock).start()
        server = serve_device(device, name=NAME, loop=loop)
        assert server is not None
        served = ServedRobot(server=server, loop=loop, bench=bench, speed=speed)
        self._served.append(served)
        server.start("127.0.0.1", free_port())
        return served

    def close(self) -> None:
        for served in reversed(self._served):
            for client in served.clients:
                asyncio.run(client.close())
            served.stop()


@pytest.fixture
def hosting() -> Iterator[Hosting]:
    h = Hosting()
    yield h
    h.close()


@dataclass
class WireRig:
    """A ``driver: kapex`` on ``transport: sila`` reaching a served robot, on the wall clock."""

    clock: LabClock
    bench: Bench
    driver: KapexDriver
    sink: MemorySink

    @property
    def client(self) -> KapexClient:
        return self.driver.client

    def run(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body`` on the wall clock; the driver is closed afterwards."""

        async def main() -> T:
            try:
                return await body()
            finally:
                await self.driver.close()

        return run_on_clock(main, clock=self.clock, kind="wall")


def wire_rig(served: ServedRobot, **changes: JsonValue) -> WireRig:
    """The client's lab file: the served robot's serial, locations and policy, real seconds."""
    base = options(transport="sila", goal_deadline_s=5.0, deadline_grace_s=2.0, lease_ttl_s=5.0)
    base.pop("home")  # where the robot stands is the served lab file's business
    base.update(changes)
    clock = LabClock()
    bench = _bench()
    context = DeviceContext(
        clock=clock,
        bench=bench,
        seed=1,
        address=served.address,
        site="KIST-Seoul",
        team="team-7",
        campaign="snar-yield-3",
    )
    sink = MemorySink()
    parsed = KapexOptions.model_validate(base)
    driver = KapexDriver(NAME, parsed, context, resolve_transport("sila"), sink=sink)
    assert driver.requires_wall_clock and served.robot.serial == SERIAL
    return WireRig(clock=clock, bench=bench, driver=driver, sink=sink)


class Watch:
    """A goal listener that keeps the feedback and says when progress reached ``at``."""

    def __init__(self, at: float = 0.0) -> None:
        self.seen: list[Feedback] = []
        self.reached = asyncio.Event()
        self._at = at

    def __call__(self, feedback: Feedback) -> None:
        self.seen.append(feedback)
        if feedback.progress >= self._at:
            self.reached.set()
