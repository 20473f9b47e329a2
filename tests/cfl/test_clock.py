from __future__ import annotations

import asyncio
import threading
import time

import pytest

from cfl.clock import ClockKind, LabClock, run_on_clock


def test_virtual_time_jumps_to_the_next_timer_and_interleaves() -> None:
    clock = LabClock(start_s=100.0)
    order: list[tuple[str, float]] = []

    async def worker(name: str, steps: int, seconds: float) -> None:
        for _ in range(steps):
            await clock.sleep(seconds)
            order.append((name, clock.now()))

    async def main() -> float:
        await asyncio.gather(worker("fast", 3, 60), worker("slow", 2, 100))
        return clock.now()

    started = time.perf_counter()
    end = run_on_clock(main, clock=clock, kind="virtual")
    assert time.perf_counter() - started < 1.0  # 300 simulated seconds, run at once
    assert end == 300.0
    assert order == [
        ("fast", 160.0),
        ("slow", 200.0),
        ("fast", 220.0),
        ("fast", 280.0),
        ("slow", 300.0),
    ]


def test_timeouts_run_on_virtual_time() -> None:
    clock = LabClock()

    async def main() -> float:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):
                await clock.sleep(3600)
        return clock.now()

    assert run_on_clock(main, clock=clock, kind="virtual") == 30.0


def test_threads_still_wake_the_virtual_loop() -> None:
    clock = LabClock()

    async def main() -> str:
        return await asyncio.to_thread(
            lambda: (time.sleep(0.05), threading.current_thread().name)[1]
        )

    assert run_on_clock(main, clock=clock, kind="virtual") != threading.current_thread().name
    assert clock.now() == 0.0  # waiting on a thread is not a timer: no virtual time passes


def test_wall_clock_counts_real_seconds() -> None:
    clock = LabClock(start_s=5.0)

    async def main() -> float:
        await clock.sleep(0.05)
        return clock.now()

    assert 5.04 <= run_on_clock(main, clock=clock, kind="wall") < 5.5


def test_negative_sleep_is_no_sleep() -> None:
    clock = LabClock()

    async def main() -> float:
        await clock.sleep(-3)
        return clock.now()

    assert run_on_clock(main, clock=clock, kind="virtual") == 0.0


def test_a_deadline_does_not_fire_while_a_worker_thread_is_still_working() -> None:
    """A blocking driver call in a thread takes real time; virtual time must wait for it."""
    clock = LabClock()

    async def main() -> float:
        async with clock.timeout(3600):
            await asyncio.to_thread(time.sleep, 0.2)
        return clock.now()

    started = time.perf_counter()
    assert run_on_clock(main, clock=clock, kind="virtual") == 0.0
    assert time.perf_counter() - started >= 0.2


def test_speed_scales_lab_time_on_the_wall_clock() -> None:
    clock = LabClock(speed=100.0)

    async def main() -> float:
        await clock.sleep(10.0)  # 10 lab seconds = 0.1 wall seconds
        return clock.now()

    started = time.perf_counter()
    assert 10.0 <= run_on_clock(main, clock=clock, kind="wall") < 20.0
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("kind", ["virtual", "wall"])
def test_tasks_left_running_are_cancelled_and_unwind_when_the_run_ends(kind: ClockKind) -> None:
    clock = LabClock()
    unwound: list[str] = []

    async def keep_alive() -> None:
        try:
            while True:
                await clock.sleep(10.0)
        finally:
            unwound.append("keep-alive")

    async def main() -> str:
        asyncio.get_running_loop().create_task(keep_alive())
        await clock.sleep(0.01)
        return "done"

    assert run_on_clock(main, clock=clock, kind=kind) == "done"
    assert unwound == ["keep-alive"]


def test_a_run_that_fails_still_unwinds_its_background_tasks() -> None:
    clock = LabClock()
    unwound: list[str] = []

    async def background() -> None:
        try:
            await clock.sleep(1e9)
        finally:
            unwound.append("background")

    async def main() -> None:
        asyncio.get_running_loop().create_task(background())
        await clock.sleep(1.0)
        raise RuntimeError("device lost")

    with pytest.raises(RuntimeError, match="device lost"):
        run_on_clock(main, clock=clock, kind="virtual")
    assert unwound == ["background"]
