"""What the simulated-instrument tests share: a bench with one station, loading a sample into it,
timing work on the virtual clock, and building a lab from an entry-point name."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import pytest
from pydantic import JsonValue

from cfl.bench import Bench, BenchSample
from cfl.clock import LabClock, run_on_clock
from cfl.devices import DeviceContext, Doses, Heats, Measures, Reacts, Stoppable, Transfers
from cfl.faults import FaultSpec
from cfl.lab import Lab, LabSpec

T = TypeVar("T")

CAPABILITIES: tuple[type, ...] = (Transfers, Reacts, Measures, Doses, Heats, Stoppable)


def capabilities(device: object) -> set[str]:
    """Names of the CFL capability protocols ``device`` satisfies."""
    return {c.__name__ for c in CAPABILITIES if isinstance(device, c)}


def station(
    name: str, *, seed: int = 1, faults: Sequence[FaultSpec] = ()
) -> tuple[LabClock, Bench, DeviceContext]:
    """A clock, a bench with a supply rack and ``name``'s station, and a context for ``name``."""
    clock = LabClock()
    bench = Bench({"rack": None}, supplies=frozenset({"rack"}))
    bench.add_location(name, 1)
    return clock, bench, DeviceContext(clock=clock, bench=bench, seed=seed, faults=faults)


def load(
    bench: Bench,
    sample: str,
    at: str,
    *,
    contents: Mapping[str, float] | None = None,
    charge: Mapping[str, float | int | str] | None = None,
) -> BenchSample:
    """Take a fresh vial from the rack, fill it as given, and set it down at ``at``."""
    vial = bench.take(sample, "rack", robot="arm")
    vial.contents = dict(contents or {})
    vial.charge = dict(charge or {})
    bench.put(sample, at, robot="arm")
    return vial


def move(bench: Bench, sample: str, to: str) -> None:
    """Move ``sample`` from wherever it sits to ``to``."""
    bench.take(sample, bench.sample(sample).location, robot="arm")
    bench.put(sample, to, robot="arm")


def timed(clock: LabClock, work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    """Run ``work`` on the virtual clock; its result and the lab seconds it took."""

    async def main() -> tuple[T, float]:
        start = clock.now()
        result = await work()
        return result, clock.now() - start

    return run_on_clock(main, clock=clock, kind="virtual")


def hangs_until_deadline(
    clock: LabClock, work: Callable[[], Awaitable[object]], deadline_s: float
) -> float:
    """Lab seconds until ``asyncio.wait_for`` gives up on ``work``; fails if it returns."""

    async def main() -> float:
        start = clock.now()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(work(), timeout=deadline_s)
        return clock.now() - start

    return run_on_clock(main, clock=clock, kind="virtual")


def lab_with(
    driver: str, name: str, role: str, options: Mapping[str, JsonValue]
) -> tuple[Lab, LabClock]:
    """A virtual-clock lab with a supply rack and one device built by its entry-point name."""
    spec = LabSpec.model_validate(
        {
            "name": f"{role}-lab",
            "clock": "virtual",
            "locations": {"rack": {"supply": True}},
            "devices": {name: {"driver": driver, "role": role, "options": dict(options)}},
        }
    )
    clock = LabClock()
    return Lab.build(spec, clock=clock, seed=3), clock
