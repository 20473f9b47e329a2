"""A small simulated lab for the robot tests: a bench, a lab clock, one KAPEX driver on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import JsonValue

from cfl.bench import Bench
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext
from cfl.faults import FaultSpec
from robots.episodes import Episode
from robots.kapex.client import KapexClient
from robots.kapex.driver import KapexDriver
from robots.kapex.options import KapexOptions
from robots.kapex.sim_transport import SimTransport
from robots.kapex.transport import resolve_transport

T = TypeVar("T")

NAME = "kapex-1"
SERIAL = "KPX-T-0001"
LOCATIONS: dict[str, JsonValue] = {
    "rack": [0.0, 0.0, 0.9],
    "reactor-1": [5.7, 0.0, 1.0],
    "hplc-1": [5.7, 5.7, 0.9],
    "archive": [0.0, 5.7, 0.8],
    "shelf": [20.0, 0.0, 0.9],  # outside the workspace
}
POLICY: dict[str, JsonValue] = {
    "name": "test-bench",
    "workspace": [{"name": "floor", "min": [-1.0, -1.0, 0.2], "max": [6.5, 6.5, 1.8]}],
    "max_grip_force_n": 20.0,
    "max_torque_nm": 3.0,
    "max_payload_kg": 1.0,
    "max_speed_m_s": 0.5,
}


class MemorySink:
    """An :class:`~robots.episodes.EpisodeSink` that keeps episodes in a list."""

    def __init__(self) -> None:
        self.episodes: list[Episode] = []

    def write(self, episode: Episode) -> None:
        self.episodes.append(episode)


@dataclass
class Rig:
    clock: LabClock
    bench: Bench
    context: DeviceContext
    driver: KapexDriver
    sink: MemorySink
    extra: list[KapexClient] = field(default_factory=list)

    @property
    def client(self) -> KapexClient:
        return self.driver.client

    def run(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body`` on the virtual clock; every session is closed afterwards."""

        async def main() -> T:
            try:
                return await body()
            finally:
                for other in self.extra:
                    await other.disconnect()
                await self.driver.close()

        return run_on_clock(main, clock=self.clock, kind="virtual")

    def second_client(self, owner: str) -> KapexClient:
        """Another session with the same simulated robot, as another team's orchestrator."""
        transport = self.client.transport
        assert isinstance(transport, SimTransport)
        other = SimTransport(transport.robot, self.context.injector("other"), self.context)
        client = KapexClient(
            "kapex-1",
            transport=other,
            serial=SERIAL,
            policy=self.client.policy,
            layout=self.client.layout,
            world=self.client.world,
            clock=self.clock,
            owner=owner,
        )
        self.extra.append(client)
        return client


def options(**changes: Any) -> dict[str, JsonValue]:
    base: dict[str, JsonValue] = {
        "transport": "sim",
        "serial": SERIAL,
        "home": "rack",
        "locations": LOCATIONS,
        "safety": POLICY,
    }
    base.update(changes)
    return base


def rig(
    changes: Mapping[str, Any] | None = None,
    *,
    seed: int = 1,
    faults: tuple[FaultSpec, ...] = (),
) -> Rig:
    clock = LabClock()
    bench = Bench({"rack": None, "archive": None}, supplies=frozenset({"rack"}))
    for station in ("reactor-1", "hplc-1"):
        bench.add_location(station, 1)
    context = DeviceContext(
        clock=clock,
        bench=bench,
        seed=seed,
        faults=faults,
        site="KIST-Seoul",
        team="team-7",
        campaign="snar-yield-3",
    )
    sink = MemorySink()
    parsed = KapexOptions.model_validate(options(**dict(changes or {})))
    driver = KapexDriver(NAME, parsed, context, resolve_transport("sim"), sink=sink)
    return Rig(clock=clock, bench=bench, context=context, driver=driver, sink=sink)
