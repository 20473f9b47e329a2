"""The served robot's side: the simulator's calls run on its loop, in real seconds, goals logged.

``sila2`` serves each call on a thread of its own; the :class:`~robots.sim.kinematic.KinematicSim`
lives on a :class:`~cfl.wire.loop.DeviceLoop` (its goals are tasks there, its events
asyncio queues). :class:`RobotHost` is what the servicers (:mod:`robots.sila.servicers`) call: it
runs each call on the loop and waits for it, and it converts times and keeps goals' events.

**Time.** ``cfl sim serve`` runs the simulated bench on a sped-up clock (``--speed``, lab seconds
per wall second), while a client of a robot counts real seconds, as it must for a real robot. So
the times a client sets, and acts on in its own time, are converted here: a lease's
``ttl_s`` is multiplied by the clock's speed on the way in and divided on the way out, and a goal's
``deadline_s`` is multiplied on the way in. Without that, a 10 s lease would go stale a sixth of a
wall second after it was granted at the default speed. What describes a goal's motion stays on the
robot's clock: ``RobotState.t_s``, ``GoalResult.duration_s`` and speeds in m/s, as with any robot
(``robots.messages``: times in a goal's messages are on the robot's own clock). Converting
``duration_s`` alone would break the episodes the client records, whose frames are resampled from
``t_s`` up to ``duration_s``. Refusal messages name times on the robot's clock too (a lease
"expires in 5990 s" at speed 600).

**Goals' events.** When a goal is accepted, a task on the loop starts moving its events (the
simulator's queue, filled from acceptance) into a :class:`GoalLog`, which any number of followers
read from any point, at any time, even after the goal has ended: following a goal is reliable
and may be repeated. The last ``_KEPT_GOALS`` goals are kept.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from cfl.wire.loop import DeviceLoop
from robots.contract import ErrorCode, GoalStatus, RobotError, StopLevel
from robots.messages import (
    CancelResponse,
    EstopState,
    Feedback,
    GoalEvent,
    GoalRequest,
    GoalResponse,
    GoalResult,
    Lease,
    RobotInfo,
)
from robots.safety import SafetyPolicy
from robots.sim.kinematic import KinematicSim

__all__ = ["GoalLog", "HostClosed", "RobotHost"]

T = TypeVar("T")

_KEPT_GOALS = 64
_CALL_TIMEOUT_S = 30.0
"""Wall seconds a call waits for the loop; the simulator answers at once unless the loop died."""


class HostClosed(RuntimeError):
    """The server is stopping: nothing more is served."""


class GoalLog:
    """The events of one accepted goal, in order: its feedback, then its one result."""

    def __init__(self, goal_id: str) -> None:
        self.goal_id = goal_id
        self._events: list[GoalEvent] = []
        self._changed = threading.Condition()
        self._closed = False

    def add(self, event: GoalEvent) -> None:
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    @property
    def ended(self) -> bool:
        with self._changed:
            return bool(self._events) and isinstance(self._events[-1], GoalResult)

    def event(self, index: int) -> GoalEvent:
        """Event ``index`` (feedback ``index``, or the result), waiting for it if need be.

        Raises:
            HostClosed: the server stopped first.
        """
        with self._changed:
            while len(self._events) <= index:
                if self._closed:
                    raise HostClosed(f"the server stopped while goal {self.goal_id} was followed")
                self._changed.wait()
            return self._events[index]

    def feedback_since(self, index: int) -> list[Feedback]:
        """Feedback ``index``, ``index + 1``, ... as far as the goal has come."""
        with self._changed:
            return [e for e in self._events[max(0, index) :] if isinstance(e, Feedback)]

    def close(self) -> None:
        """Wake every follower still waiting: the server stops."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class RobotHost:
    """One simulated robot as the SiLA 2 servicers see it; see the module docstring.

    Args:
        robot: The simulator; it must run on ``loop``'s clock.
        loop: The running loop the simulator's coroutines run on.
    """

    def __init__(self, robot: KinematicSim, loop: DeviceLoop) -> None:
        self.robot = robot
        self._loop = loop
        self.speed = loop.clock.speed
        """Robot (lab) seconds per real second."""
        self._lock = threading.Lock()
        self._logs: OrderedDict[str, GoalLog] = OrderedDict()
        self._pumps: set[asyncio.Task[None]] = set()
        self._closed = False
        self.accepted = 0
        """Goals accepted since the server started."""
        self.ended: Counter[GoalStatus] = Counter()
        """How the accepted goals ended, by status."""

    # ------------------------------------------------------------------------ plumbing

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise HostClosed(f"{self.robot.name}: the server is stopping")
        return self._loop.submit(coro).result(timeout=_CALL_TIMEOUT_S)

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the loop's thread, where the simulator lives."""

        async def call() -> T:
            return function(*args)

        return self._run(call())

    def close(self) -> None:
        """Stop serving: refuse new calls, wake followers (the server stops)."""
        with self._lock:
            self._closed = True
            logs = list(self._logs.values())
        for log in logs:
            log.close()

    # ----------------------------------------------------------------------- the robot

    def info(self) -> RobotInfo:
        return self._call(self.robot.info)

    def acquire_lease(self, owner: str, ttl_s: float) -> Lease:
        """``ttl_s`` and the lease's ``ttl_s`` in real seconds.

        Raises:
            RobotError: ``lease_held``.
        """
        lease = self._call(self.robot.acquire_lease, owner, ttl_s * self.speed)
        return self._real(lease)

    def renew_lease(self, lease_id: str) -> Lease:
        """Raises RobotError: ``lease_expired``, ``lease_invalid``."""
        return self._real(self._call(self.robot.renew_lease, lease_id))

    def release_lease(self, lease_id: str) -> None:
        self._call(self.robot.release_lease, lease_id)

    def _real(self, lease: Lease) -> Lease:
        return lease.model_copy(update={"ttl_s": lease.ttl_s / self.speed})

    def set_policy(self, policy: SafetyPolicy) -> None:
        self._call(self.robot.set_policy, policy)

    def submit(self, request: GoalRequest) -> GoalResponse:
        """Submit a goal whose ``deadline_s`` is in real seconds; log its events if accepted."""
        robot_request = request.model_copy(update={"deadline_s": request.deadline_s * self.speed})
        return self._run(self._submit(robot_request))

    async def _submit(self, request: GoalRequest) -> GoalResponse:
        response = self.robot.submit(request)
        if response.accepted:
            log = GoalLog(request.goal_id)
            self._remember(log)
            self.accepted += 1
            task = asyncio.get_running_loop().create_task(
                self._pump(log, self.robot.events(request.goal_id))
            )
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)
        return response

    async def _pump(self, log: GoalLog, events: asyncio.Queue[GoalEvent]) -> None:
        while True:
            event = await events.get()
            log.add(event)
            if isinstance(event, GoalResult):
                self.ended[event.status] += 1
                return

    def _remember(self, log: GoalLog) -> None:
        with self._lock:
            if self._closed:  # accepted as the server stopped: nobody may wait on it for ever
                log.close()
            self._logs[log.goal_id] = log
            while len(self._logs) > _KEPT_GOALS:
                oldest = next(iter(self._logs.values()))
                if not oldest.ended:
                    break
                self._logs.popitem(last=False)

    def log(self, goal_id: str) -> GoalLog:
        """The events of an accepted goal.

        Raises:
            RobotError: ``bad_args`` for a goal the robot does not know (or no longer keeps).
        """
        with self._lock:
            log = self._logs.get(goal_id)
        if log is None:
            raise RobotError(
                ErrorCode.BAD_ARGS,
                f"{self.robot.name} has no goal {goal_id!r} (it keeps the last {_KEPT_GOALS}); "
                "follow goals that SubmitGoal accepted",
            )
        return log

    def cancel(self, goal_id: str) -> CancelResponse:
        return self._call(self.robot.cancel, goal_id)

    def estop(self, level: StopLevel, reason: str, by: str) -> EstopState:
        return self._call(self.robot.estop, level, reason, by)

    def clear_estop(self, operator: str) -> EstopState:
        """Raises RobotError: ``operator_required``."""
        return self._call(self.robot.clear_estop, operator)

    def estop_state(self) -> EstopState:
        return self._call(self.robot.estop_state)
