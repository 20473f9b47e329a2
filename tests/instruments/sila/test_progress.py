"""Progress estimates: per command on a shared clock, never backwards, below 1 until the end."""

from __future__ import annotations

import asyncio

from cfl.clock import LabClock
from instruments.sila.progress import CommandTimer, ProgressMeter, TrackingClock, timed


def test_the_tracking_clock_charges_each_sleep_to_its_own_command() -> None:
    clock = TrackingClock(speed=1000)
    first, second = CommandTimer(), CommandTimer()
    seen: list[tuple[float, float]] = []

    async def work(seconds: list[float]) -> None:
        for s in seconds:
            await clock.sleep(s)

    async def main() -> None:
        clock.bind(asyncio.get_running_loop())
        a = asyncio.create_task(timed(work([100.0, 100.0]), first))
        b = asyncio.create_task(timed(work([400.0]), second))
        await asyncio.sleep(0.15)  # 150 lab s: a is half-way through its 2nd sleep, b 3/8 done
        estimates = (first.estimate(clock.now()), second.estimate(clock.now()))
        assert estimates[0] is not None and estimates[1] is not None
        seen.append((estimates[0].fraction, estimates[1].fraction))
        await asyncio.gather(a, b)

    asyncio.run(main())
    (a, b) = seen[0]
    assert 0.6 < a < 0.9 and 0.3 < b < 0.5


def test_the_meter_never_goes_backwards_and_stays_below_one() -> None:
    clock = LabClock()
    timer = CommandTimer()
    meter = ProgressMeter(clock, timer, None)
    assert meter.read() is None  # nothing known yet
    timer.begin_wait(0.0, 10.0)
    timer.end_wait(10.0)
    timer.begin_wait(0.0, 90.0)  # a second, longer wait: the raw estimate drops to 0.1
    estimate = meter.read()
    assert estimate is not None and estimate.fraction == 0.1
    timer.end_wait(90.0)
    done = meter.read()
    assert done is not None and done.fraction == 0.99  # ended waits; the call has not returned
    timer.begin_wait(0.0, 1000.0)
    later = meter.read()
    assert later is not None and later.fraction == 0.99  # not back down to 0.1
