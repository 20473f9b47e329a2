"""``transport: sim``: the simulated KAPEX behind the transport protocol, in process.

It is the reference transport: it keeps every rule of :mod:`robots.kapex.transport` (refusals as
:class:`~robots.contract.RobotError`, a lost link as ``TransportLost``, events buffered from
acceptance) so the driver cannot tell it from a wire. The simulated robot outlives the connection,
as a real one does: closing and reopening the transport finds it where it stood.

The lab file's ``faults:`` act on the link, once per goal sent (:mod:`cfl.faults`): ``disconnect``
drops the link as the goal is sent (``TransportLost``), ``timeout`` makes the send time out
(``TransportTimeout``), ``hang`` leaves it unanswered so only a deadline ends it. ``out_of_range``
has no meaning for a robot and does nothing. Grasp slips and perception misses are the robot's own
failures, set by the failure rates of the options.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from cfl.devices import DeviceContext
from cfl.errors import DeviceDisconnected, DeviceTimeout
from cfl.faults import FaultInjector
from robots.contract import StopLevel
from robots.kapex.options import KapexOptions
from robots.kapex.transport import TransportLost, TransportTimeout
from robots.layout import Layout
from robots.messages import (
    CancelResponse,
    EstopState,
    GoalEvent,
    GoalRequest,
    GoalResponse,
    GoalResult,
    Lease,
    RobotInfo,
)
from robots.safety import SafetyPolicy
from robots.sim.kinematic import KinematicSim
from robots.sim.plans import FailureModel, Planner, Timing

__all__ = ["SimTransport"]


class SimTransport:
    """A connection to a :class:`~robots.sim.kinematic.KinematicSim`; see the module docstring.

    Args:
        robot: The simulated robot (several transports may share one, as clients share a robot).
        faults: Link faults to inject.
        context: The lab's clock, for the faults' timing.
    """

    def __init__(self, robot: KinematicSim, faults: FaultInjector, context: DeviceContext) -> None:
        self.robot = robot
        self._faults = faults
        self._context = context
        self._open = False

    @classmethod
    def build(cls, name: str, options: KapexOptions, context: DeviceContext) -> SimTransport:
        """The transport factory for ``transport: sim``: a new simulated robot on the bench."""
        layout = Layout(options.locations, options.ring_radius_m)
        timing = Timing.model_validate(options.model_dump(include=set(Timing.model_fields)))
        failures = FailureModel.model_validate(
            options.model_dump(include=set(FailureModel.model_fields))
        )
        planner = Planner(name, context.bench, layout, timing, failures, context.rng)
        robot = KinematicSim(
            name,
            options.serial,
            planner=planner,
            layout=layout,
            clock=context.clock,
            home=options.home,
            state_hz=options.state_hz,
            feedback_period_s=options.feedback_period_s,
            settle_s=options.settle_s,
        )
        return cls(robot, context.injector(name), context)

    def _link(self) -> KinematicSim:
        if not self._open:
            raise TransportLost(f"not connected to {self.robot.name}; open the transport first")
        return self.robot

    async def open(self) -> RobotInfo:
        self._open = True
        return self.robot.info()

    async def close(self) -> None:
        self._open = False

    async def acquire_lease(self, owner: str, ttl_s: float) -> Lease:
        return self._link().acquire_lease(owner, ttl_s)

    async def renew_lease(self, lease_id: str) -> Lease:
        return self._link().renew_lease(lease_id)

    async def release_lease(self, lease_id: str) -> None:
        self._link().release_lease(lease_id)

    async def set_safety_policy(self, policy: SafetyPolicy) -> None:
        self._link().set_policy(policy)

    async def send_goal(self, request: GoalRequest) -> GoalResponse:
        robot = self._link()
        try:
            await self._faults.run(request.skill, 0.0, self._context.clock.sleep)
        except DeviceDisconnected as exc:
            self._open = False
            raise TransportLost(f"link to {robot.name} dropped sending {request.skill}") from exc
        except DeviceTimeout as exc:
            raise TransportTimeout(f"{robot.name} did not answer goal {request.goal_id}") from exc
        return robot.submit(request)

    async def goal_events(self, goal_id: str) -> AsyncIterator[GoalEvent]:
        queue = self._link().events(goal_id)
        while True:
            event = await queue.get()
            self._link()
            yield event
            if isinstance(event, GoalResult):
                return

    async def cancel_goal(self, goal_id: str) -> CancelResponse:
        return self._link().cancel(goal_id)

    async def estop(self, level: StopLevel, reason: str, by: str) -> EstopState:
        return self._link().estop(level, reason, by)

    async def clear_estop(self, operator: str) -> EstopState:
        return self._link().clear_estop(operator)

    async def estop_state(self) -> EstopState:
        return self._link().estop_state()
