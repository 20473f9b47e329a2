"""Lab time, real or virtual.

Devices wait with ``await clock.sleep(seconds)`` and stamp events with ``clock.now()``. On the
wall clock those are real seconds. On the virtual clock the event loop itself runs on simulated
time: whenever every task is waiting on a timer, the loop jumps straight to the earliest one, so a
campaign of simulated hours runs in seconds and still interleaves exactly as it would in real time.
Work that does not wait on a timer (fitting the planner, say) takes no virtual time.

The virtual loop is the standard selector loop with two public seams replaced: ``time()`` returns
the virtual time, and the selector, asked to block for ``t`` seconds with nothing ready, advances
the virtual time by ``t`` instead of sleeping. Real file descriptors are still polled, so threads
that wake the loop (``call_soon_threadsafe``) work; with no timer pending, the selector blocks for
real, as usual. While a worker thread runs (``asyncio.to_thread``, a blocking driver call) the
selector also waits for real, so virtual time never jumps past work that is actually happening.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Literal, TypeVar

__all__ = ["ClockKind", "LabClock", "VirtualTimeEventLoop", "run_on_clock"]

T = TypeVar("T")
ClockKind = Literal["virtual", "wall"]


class _VirtualSelector(selectors.DefaultSelector):
    """A selector that turns "block for t seconds" into "advance virtual time by t"."""

    def __init__(self, start_s: float) -> None:
        super().__init__()
        self.now = start_s
        self.threads_running = 0
        """Executor jobs in flight: while one runs, time must not jump past it."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None or self.threads_running:
            # Nothing scheduled, or a worker thread (a blocking driver call) is busy: wait for
            # real I/O, as a normal loop does; the thread wakes the loop when it is done.
            # Jumping ahead would fire a step's deadline while the thread is still working.
            return super().select(None)
        self.now += timeout
        return []


class VirtualTimeEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock is simulated; see the module docstring."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._virtual = _VirtualSelector(start_s)
        super().__init__(selector=self._virtual)

    def time(self) -> float:
        return self._virtual.now

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self._virtual.threads_running += 1

        def _finished(_: asyncio.Future[T]) -> None:
            self._virtual.threads_running -= 1

        future.add_done_callback(_finished)
        return future


class LabClock:
    """Seconds of lab time since the campaign began, on the running loop's clock.

    Args:
        start_s: Lab time at the moment the loop starts, so a resumed campaign continues its
            timeline instead of starting again at zero.
        speed: Lab seconds per loop second. A simulator served on the wire runs on the wall
            clock, sped up so that an hour's chemistry takes seconds in a test.
    """

    def __init__(self, start_s: float = 0.0, *, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed=}")
        self._start_s = start_s
        self._speed = speed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._origin = 0.0

    @property
    def speed(self) -> float:
        """Lab seconds per loop second."""
        return self._speed

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Anchor lab time to ``loop``; called once by :func:`run_on_clock`."""
        self._loop = loop
        self._origin = loop.time()

    def now(self) -> float:
        """Lab time in seconds."""
        if self._loop is None:
            return self._start_s
        return self._start_s + (self._loop.time() - self._origin) * self._speed

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of lab time."""
        await asyncio.sleep(max(0.0, seconds) / self._speed)

    def timeout(self, seconds: float) -> asyncio.Timeout:
        """``async with clock.timeout(s)``: raise TimeoutError after ``s`` seconds of lab time."""
        return asyncio.timeout(max(0.0, seconds) / self._speed)


def run_on_clock(main: Callable[[], Awaitable[T]], *, clock: LabClock, kind: ClockKind) -> T:
    """Run ``main()`` to completion on a fresh event loop of the given kind.

    Args:
        main: Builds the coroutine to run; it is called inside the new loop.
        clock: The lab clock to anchor to the new loop.
        kind: ``"virtual"`` for simulated labs, ``"wall"`` when real devices take part.
    """
    loop: asyncio.AbstractEventLoop = (
        VirtualTimeEventLoop() if kind == "virtual" else asyncio.new_event_loop()
    )
    try:
        clock.bind(loop)

        async def _main() -> T:
            return await main()

        return loop.run_until_complete(_main())
    finally:
        try:
            _cancel_remaining(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks ``main`` left running and let them unwind, as :func:`asyncio.run` does.

    A background task still pending when the loop closes (a robot's lease keep-alive after a run
    that ended by an error) never runs its ``finally`` blocks, and Python reports it as
    "Task was destroyed but it is pending".
    """
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception in a task left running at the end of a run",
                    "exception": task.exception(),
                    "task": task,
                }
            )
