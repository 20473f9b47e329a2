"""How far a served device's command has got, in lab time, for SiLA 2 ExecutionInfo.

CFL's capability protocols do not report progress, so the server estimates it, best source first:

1. The device says how long the command should take: it implements :class:`EstimatesDuration`.
   Progress is lab time elapsed over that duration.
2. The device waits on a :class:`TrackingClock` (``cfl sim serve`` builds its lab with one). Every
   ``clock.sleep`` inside the command is recorded, so progress is lab time waited over lab time
   waited plus still to wait in the current sleep. The flow reactor and the HPLC spend each
   command in one sleep, so their progress is exact; the robot walks, then grasps, so its
   progress reaches the cap during the walk and stays there while it grasps.
3. Neither: progress is reported only as 0 when the command starts and 1 when it ends.

Progress never goes backwards and stays below 1 until the command has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from cfl.clock import LabClock

__all__ = [
    "CommandTimer",
    "Estimate",
    "EstimatesDuration",
    "ProgressMeter",
    "TrackingClock",
    "timed",
]

T = TypeVar("T")

_CURRENT: ContextVar[CommandTimer | None] = ContextVar("cfl_sila_command_timer", default=None)

_BELOW_ONE = 0.99
"""Highest progress reported while the command still runs: 1 means it has ended."""


@runtime_checkable
class EstimatesDuration(Protocol):
    """A device that can say how long a command will take (optional, for progress reports)."""

    def expected_duration_s(self, command: str, arguments: Mapping[str, object]) -> float | None:
        """Lab seconds ``command`` with ``arguments`` should take, or ``None`` if unknown."""


@dataclass(frozen=True)
class Estimate:
    """Progress of a running command."""

    fraction: float
    """From 0 to just below 1."""
    remaining_s: float | None
    """Lab seconds still to go, if known."""


class CommandTimer:
    """The lab time one running command has waited and is waiting; read from other threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waited_s = 0.0
        self._current: tuple[float, float] | None = None  # (start, duration) of the current sleep

    def begin_wait(self, now: float, seconds: float) -> None:
        with self._lock:
            self._current = (now, max(0.0, seconds))

    def end_wait(self, waited_s: float) -> None:
        with self._lock:
            self._waited_s += max(0.0, waited_s)
            self._current = None

    def estimate(self, now: float) -> Estimate | None:
        """Progress from the waits seen so far; ``None`` before the first one."""
        with self._lock:
            waited, current = self._waited_s, self._current
        if current is None:
            return None if waited == 0 else Estimate(_BELOW_ONE, None)
        start, duration = current
        elapsed = min(max(0.0, now - start), duration)
        total = waited + duration
        if total <= 0:
            return None
        return Estimate(min(_BELOW_ONE, (waited + elapsed) / total), duration - elapsed)


class TrackingClock(LabClock):
    """A lab clock that records each sleep in the command running it (see the module docstring).

    It is the lab clock in every other respect, so devices built on it behave as on any clock.
    """

    async def sleep(self, seconds: float) -> None:
        timer = _CURRENT.get()
        if timer is None:
            await super().sleep(seconds)
            return
        start = self.now()
        timer.begin_wait(start, seconds)
        try:
            await super().sleep(seconds)
        finally:
            timer.end_wait(min(self.now() - start, max(0.0, seconds)))


async def timed(coro: Coroutine[Any, Any, T], timer: CommandTimer) -> T:
    """Run ``coro`` with ``timer`` recording its sleeps on a :class:`TrackingClock`.

    The timer lives in a context variable, which asyncio copies into each task, so concurrent
    commands on one loop and one clock each see only their own sleeps.
    """
    _CURRENT.set(timer)
    return await coro


class ProgressMeter:
    """Progress of one command from the best source available (see the module docstring).

    Args:
        clock: The device's lab clock.
        timer: Records the command's sleeps, when the clock is a :class:`TrackingClock`.
        expected_s: Lab seconds the device said the command takes, if it did.
    """

    def __init__(self, clock: LabClock, timer: CommandTimer, expected_s: float | None) -> None:
        self._clock = clock
        self._timer = timer
        self._expected_s = expected_s if expected_s is not None and expected_s > 0 else None
        self._started = clock.now()
        self._last = 0.0

    def read(self) -> Estimate | None:
        """The current estimate, never below the last one; ``None`` when nothing is known."""
        now = self._clock.now()
        if self._expected_s is not None:
            elapsed = now - self._started
            estimate: Estimate | None = Estimate(
                min(_BELOW_ONE, elapsed / self._expected_s), max(0.0, self._expected_s - elapsed)
            )
        else:
            estimate = self._timer.estimate(now)
        if estimate is None:
            return None
        self._last = max(self._last, estimate.fraction)
        return Estimate(self._last, estimate.remaining_s)

    def wall_seconds(self, lab_seconds: float) -> float | None:
        """``lab_seconds`` in wall seconds, when the clock's speed is known."""
        if isinstance(self._clock, TrackingClock):
            return lab_seconds / self._clock.speed
        return None
