from __future__ import annotations

import asyncio

import pytest

from cfl.clock import LabClock, run_on_clock
from cfl.pool import DevicePool


def test_waiters_are_served_in_arrival_order() -> None:
    clock = LabClock()
    pool = DevicePool({"reactor": ["r1", "r2"], "robot": ["k1"]})
    log: list[tuple[str, str, float]] = []

    async def job(name: str, hold: float) -> None:
        device = await pool.acquire("reactor")
        log.append((name, device, clock.now()))
        await clock.sleep(hold)
        pool.release(device)

    async def main() -> None:
        await asyncio.gather(job("a", 10), job("b", 20), job("c", 5), job("d", 5))

    run_on_clock(main, clock=clock, kind="virtual")
    assert log == [("a", "r1", 0.0), ("b", "r2", 0.0), ("c", "r1", 10.0), ("d", "r1", 15.0)]
    assert pool.held == frozenset()
    assert pool.size == 3


def test_release_of_a_device_not_held_is_a_bug() -> None:
    pool = DevicePool({"robot": ["k1"]})
    with pytest.raises(RuntimeError, match="'k1' released but not held"):
        pool.release("k1")
