"""The simulated KAPEX robot: leases, e-stop and goals, over a deterministic kinematic body.

This is the robot side of the contract (:mod:`robots.contract`), in process. A transport
(:class:`robots.kapex.sim_transport.SimTransport`) puts it behind the same calls a real robot
answers; serving it over SiLA 2 later means putting a server in front of these same methods.

How it behaves, rule by rule:

* **Lease.** One owner at a time; a second owner is refused ``lease_held`` while the lease is
  fresh. A lease not renewed within its ``ttl_s`` goes stale: a running goal is aborted
  ``lease_expired`` at that instant, and anyone may acquire the lease again.
* **E-stop.** Its own calls, no lease needed. ``cut`` ends the running goal at once (aborted,
  ``estopped``); ``settle_then_cut`` first brings the arms in (``settle_s``), then ends it. While
  engaged every goal is rejected ``estopped``. Only a named human (``human:<name>``) clears it.
* **Goals.** Checked on arrival (arguments, e-stop, lease, the safety policy, one goal at a time
  unless it preempts) and answered accepted or rejected. An accepted goal runs its plan
  (:mod:`robots.sim.plans`) on the lab clock, streaming feedback every ``feedback_period_s`` with
  the state samples taken at ``state_hz`` since the last one, and ends exactly once. During the run
  every sample is checked against the safety policy, and the goal is aborted at the first one that
  breaks it; the deadline, the lease, cancel requests and the e-stop end it at their instant, not
  at the next feedback.
* **Cancel and preemption.** A cancelled goal stops where it is (``canceling``, then ``cancelled``);
  a goal preempted by a newer one ends ``cancelled`` with code ``preempted``, and the newer goal
  starts from where it stopped.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from pydantic import JsonValue

from cfl.clock import LabClock
from robots.contract import (
    ErrorCode,
    GoalStatus,
    RobotError,
    RobotErrorInfo,
    StopLevel,
    check_transition,
)
from robots.layout import Layout
from robots.messages import (
    CancelAnswer,
    CancelResponse,
    EstopState,
    Feedback,
    GoalEvent,
    GoalRequest,
    GoalResponse,
    GoalResult,
    Lease,
    RobotInfo,
    RobotState,
)
from robots.safety import SafetyPolicy
from robots.sim.motion import CARRY_HEIGHT_M, JOINT_NAMES, Blend, Pose, stow_joints
from robots.sim.plans import Checkpoint, Plan, Planner
from robots.skills import SKILLS, SkillArgs, parse_skill

__all__ = ["HUMAN_OPERATOR", "KinematicSim"]

HUMAN_OPERATOR = re.compile(r"^human:[A-Za-z][A-Za-z0-9_.@-]*$")
"""How an operator allowed to clear an e-stop is named: CFL's actor name for a person."""

_KEPT_GOALS = 64


@dataclass(frozen=True)
class _Violation:
    t_s: float
    error: RobotErrorInfo


@dataclass
class _Goal:
    request: GoalRequest
    args: SkillArgs
    accepted_at: float
    status: GoalStatus = GoalStatus.ACCEPTED
    events: asyncio.Queue[GoalEvent] = field(default_factory=asyncio.Queue)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stop: tuple[GoalStatus, RobotErrorInfo, StopLevel | None] | None = None
    """A requested end: cancelled (cancel, preemption) or aborted (e-stop, at its level)."""
    done: asyncio.Event = field(default_factory=asyncio.Event)


class KinematicSim:
    """A simulated KAPEX; see the module docstring.

    Args:
        name: The device name it holds vials under on the bench.
        serial: The serial number it reports.
        planner: Turns skills into plans (timing, failure model, bench effects).
        layout: Positions of named locations.
        clock: The lab clock it runs on.
        home: Where it stands at start; ``None``: the origin.
        state_hz: How often joint states are sampled.
        feedback_period_s: How often feedback is sent.
        settle_s: How long ``settle_then_cut`` takes to bring the arms in.
    """

    def __init__(
        self,
        name: str,
        serial: str,
        *,
        planner: Planner,
        layout: Layout,
        clock: LabClock,
        home: str | None = None,
        state_hz: float = 10.0,
        feedback_period_s: float = 1.0,
        settle_s: float = 1.0,
    ) -> None:
        self.name = name
        self.serial = serial
        self._planner = planner
        self._layout = layout
        self._clock = clock
        self._state_dt = 1.0 / state_hz
        self._feedback_s = feedback_period_s
        self._settle_s = settle_s
        x, y, _ = layout.position(home) if home is not None else (0.0, 0.0, 0.0)
        self._pose = Pose(
            joints=stow_joints((x, y, 0.0), hand_closed={}), tool=(x, y, CARRY_HEIGHT_M)
        )
        self._holding: str | None = None
        self._policy = SafetyPolicy()
        self._lease: Lease | None = None
        self._lease_expires = -math.inf
        self._lease_numbers = itertools.count(1)
        self._estop = EstopState(engaged=False)
        self._goals: OrderedDict[str, _Goal] = OrderedDict()
        self._active: _Goal | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------------------- about it

    def info(self) -> RobotInfo:
        return RobotInfo(
            serial=self.serial,
            robot_type="kapex_sim",
            firmware="kinematic-sim-1",
            is_sim=True,
            joint_names=JOINT_NAMES,
            skills=tuple(SKILLS),
            state=self._state_of(self._pose, self._pose, 0.0),
        )

    @property
    def holding(self) -> str | None:
        """What the hand holds, as far as the robot knows."""
        return self._holding

    @property
    def pose(self) -> Pose:
        return self._pose

    def set_policy(self, policy: SafetyPolicy) -> None:
        """The safety policy to enforce from the next goal on."""
        self._policy = policy

    # ------------------------------------------------------------------------------ lease

    def acquire_lease(self, owner: str, ttl_s: float) -> Lease:
        """Grant the lease to ``owner``, or renew it if ``owner`` already holds it.

        Raises:
            RobotError: ``lease_held`` while another owner's lease is fresh.
        """
        if self._lease_fresh() and self._lease is not None:
            if self._lease.owner != owner:
                left = self._lease_expires - self._clock.now()
                raise RobotError(
                    ErrorCode.LEASE_HELD,
                    f"{self.name} is leased to {self._lease.owner} (expires in {left:.1f} s "
                    "unless renewed); ask them to release it",
                )
            return self.renew_lease(self._lease.lease_id)
        number = next(self._lease_numbers)
        self._lease = Lease(
            lease_id=f"{self.serial}-lease-{number}", owner=owner, ttl_s=ttl_s, sequence=number
        )
        self._lease_expires = self._clock.now() + ttl_s
        return self._lease

    def renew_lease(self, lease_id: str) -> Lease:
        """Keep the lease fresh for another ``ttl_s``.

        Raises:
            RobotError: ``lease_expired`` if it went stale first, ``lease_invalid`` if it is not
                the current lease.
        """
        lease = self._current(lease_id)
        self._lease_expires = self._clock.now() + lease.ttl_s
        return lease

    def release_lease(self, lease_id: str) -> None:
        """Give the lease up; releasing a lease that is no longer current does nothing."""
        if self._lease is not None and self._lease.lease_id == lease_id:
            self._lease = None
            self._lease_expires = -math.inf

    def _lease_fresh(self) -> bool:
        return self._lease is not None and self._clock.now() < self._lease_expires

    def _current(self, lease_id: str | None) -> Lease:
        if self._lease is None or lease_id is None or self._lease.lease_id != lease_id:
            raise RobotError(
                ErrorCode.LEASE_INVALID,
                f"{self.name}: lease {lease_id!r} is not the current lease; acquire the lease "
                "first",
            )
        if not self._lease_fresh():
            raise RobotError(
                ErrorCode.LEASE_EXPIRED,
                f"{self.name}: lease {lease_id} went stale (not renewed within "
                f"{self._lease.ttl_s:g} s); acquire it again",
            )
        return self._lease

    # ----------------------------------------------------------------------------- e-stop

    def estop(self, level: StopLevel, reason: str, by: str) -> EstopState:
        """Engage the e-stop: the running goal ends, new goals are rejected until cleared."""
        self._estop = EstopState(engaged=True, level=level, reason=reason, engaged_by=by)
        goal = self._active
        if goal is not None and not goal.status.terminal:
            error = RobotErrorInfo(
                code=ErrorCode.ESTOPPED,
                message=f"{self.name}: e-stop ({level.value}) by {by}: {reason}",
            )
            goal.stop = (GoalStatus.ABORTED, error, level)
            goal.wake.set()
        return self._estop

    def clear_estop(self, operator: str) -> EstopState:
        """Release the e-stop; only a named human may.

        Raises:
            RobotError: ``operator_required`` when ``operator`` is not ``human:<name>``.
        """
        if not HUMAN_OPERATOR.match(operator):
            raise RobotError(
                ErrorCode.OPERATOR_REQUIRED,
                f"{self.name}: an e-stop is cleared by a named human operator "
                f"('human:<name>'), not {operator!r}; a person must check the robot first",
            )
        self._estop = EstopState(engaged=False, cleared_by=operator)
        return self._estop

    def estop_state(self) -> EstopState:
        return self._estop

    # ------------------------------------------------------------------------------ goals

    def submit(self, request: GoalRequest) -> GoalResponse:
        """Accept or reject a goal; an accepted goal starts running at once."""
        now_state = self._state_of(self._pose, self._pose, 0.0)
        try:
            args = parse_skill(request.skill, request.args)
            self._admit(request, args)
        except RobotError as exc:
            return GoalResponse(
                goal_id=request.goal_id, accepted=False, error=exc.info, state=now_state
            )
        previous = self._active if self._active and not self._active.status.terminal else None
        if previous is not None:
            preempted = RobotErrorInfo(
                code=ErrorCode.PREEMPTED,
                message=f"{self.name}: goal {previous.request.goal_id} was preempted by goal "
                f"{request.goal_id}",
            )
            previous.stop = (GoalStatus.CANCELLED, preempted, None)
            previous.wake.set()
        goal = _Goal(request=request, args=args, accepted_at=self._clock.now())
        self._remember(goal)
        self._active = goal
        task = asyncio.get_running_loop().create_task(self._run(goal, previous))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return GoalResponse(goal_id=request.goal_id, accepted=True, state=now_state)

    def _admit(self, request: GoalRequest, args: SkillArgs) -> None:
        """Raise the reason to reject ``request``, if there is one."""
        if self._estop.engaged:
            raise RobotError(
                ErrorCode.ESTOPPED,
                f"{self.name} is e-stopped ({self._estop.reason}); a human operator must clear "
                "it before it takes goals",
            )
        self._current(request.lease_id)
        violation = self._policy.check_goal(args, self._layout)
        if violation is not None:
            raise RobotError(violation.code, violation.message)
        active = self._active
        if active is not None and not active.status.terminal and not request.preempt:
            raise RobotError(
                ErrorCode.BUSY,
                f"{self.name} is running goal {active.request.goal_id} ({active.request.skill}); "
                "wait for it, cancel it, or send the goal with preempt",
            )

    def events(self, goal_id: str) -> asyncio.Queue[GoalEvent]:
        """The event queue of an accepted goal: feedback, then exactly one result.

        Raises:
            RobotError: ``bad_args`` for a goal id the robot does not know.
        """
        goal = self._goals.get(goal_id)
        if goal is None:
            raise RobotError(ErrorCode.BAD_ARGS, f"{self.name} has no goal {goal_id!r}")
        return goal.events

    def cancel(self, goal_id: str) -> CancelResponse:
        """Ask a goal to stop; it ends ``cancelled`` unless it ends otherwise first."""
        goal = self._goals.get(goal_id)
        if goal is None:
            return CancelResponse(goal_id=goal_id, answer=CancelAnswer.UNKNOWN_GOAL)
        if goal.status.terminal:
            return CancelResponse(goal_id=goal_id, answer=CancelAnswer.GOAL_TERMINATED)
        if goal.stop is None:
            goal.stop = (
                GoalStatus.CANCELLED,
                RobotErrorInfo(code=ErrorCode.CANCELLED, message=f"goal {goal_id} was cancelled"),
                None,
            )
            goal.wake.set()
        return CancelResponse(goal_id=goal_id, answer=CancelAnswer.ACCEPTED)

    async def shutdown(self) -> None:
        """Abort what runs and wait for it (a simulator being thrown away)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --------------------------------------------------------------------------- running

    async def _run(self, goal: _Goal, previous: _Goal | None) -> None:
        if previous is not None:
            await previous.done.wait()
        start_pose = self._pose
        try:
            if goal.stop is not None:  # stopped before it began
                status, error, _ = goal.stop
                self._finish(goal, status, error, [], start_pose, 0.0)
                return
            plan = self._planner.plan(
                goal.args, start_pose, holding=self._holding, policy=self._policy
            )
            await self._execute(goal, plan, start_pose)
        except asyncio.CancelledError:
            if not goal.status.terminal:
                error = RobotErrorInfo(
                    code=ErrorCode.HARDWARE_FAULT, message=f"{self.name} was shut down"
                )
                self._finish(goal, GoalStatus.ABORTED, error, [], self._pose, 0.0)
            raise
        finally:
            goal.done.set()

    async def _execute(self, goal: _Goal, plan: Plan, start_pose: Pose) -> None:
        """Run ``plan`` to its end or to whatever ends it first; see the module docstring."""
        self._set(goal, GoalStatus.EXECUTING)
        total = plan.duration_s
        checkpoints = sorted(plan.checkpoints, key=lambda c: c.t_s)
        states = [self._sample(plan, 0.0)]
        t = 0.0
        while True:
            horizon = min(
                t + self._feedback_s,
                total,
                goal.request.deadline_s,
                self._lease_expires - goal.accepted_at,
                *(c.t_s for c in checkpoints if c.t_s > t),
            )
            window, violation = self._scan(plan, t, max(horizon, t))
            if violation is not None:
                horizon = violation.t_s
            woke = await self._wait(goal, horizon - t)
            reached = min(horizon, self._clock.now() - goal.accepted_at) if woke else horizon
            states += [state for state in window if state.t_s <= reached + 1e-9]
            t = max(t, reached)
            pose = plan.at(t)[0]
            end = self._end(goal, plan, t, checkpoints, violation)
            if goal.stop is not None and goal.stop[2] is StopLevel.SETTLE_THEN_CUT:
                pose, settled = await self._settle(pose, t)
                states += settled
                t += self._settle_s
            if end is None:
                goal.events.put_nowait(
                    Feedback(
                        goal_id=goal.request.goal_id,
                        status=goal.status,
                        phase=plan.at(t)[1],
                        progress=min(1.0, t / total) if total > 0 else 1.0,
                        states=tuple(states),
                    )
                )
                states = []
                continue
            status, error = end
            if not states or states[-1].t_s < t - 1e-9:
                states.append(self._state_of(pose, pose, t))
            succeeded = status is GoalStatus.SUCCEEDED
            if succeeded:
                self._holding = plan.holds_after
            final = pose if succeeded else self._unchanged(pose, start_pose)
            outputs: dict[str, JsonValue] = dict(plan.outputs) if succeeded else {}
            self._finish(goal, status, error, states, final, t, outputs)
            return

    def _end(
        self,
        goal: _Goal,
        plan: Plan,
        t: float,
        checkpoints: list[Checkpoint],
        violation: _Violation | None,
    ) -> tuple[GoalStatus, RobotErrorInfo | None] | None:
        """How the goal ends at ``t``, if it does.

        The first of, in order: a stop request, a safety violation, a failed checkpoint, the
        plan's end (commit), the deadline, the lease.
        """
        if goal.stop is not None:
            return goal.stop[0], goal.stop[1]
        if violation is not None and t >= violation.t_s - 1e-9:
            return GoalStatus.ABORTED, violation.error
        for checkpoint in checkpoints:
            if checkpoint.t_s <= t + 1e-9 and (error := checkpoint.check()) is not None:
                return GoalStatus.ABORTED, error
        if t >= plan.duration_s:
            failed = plan.commit()
            return (GoalStatus.SUCCEEDED, None) if failed is None else (GoalStatus.ABORTED, failed)
        request = goal.request
        if t >= request.deadline_s:
            return GoalStatus.ABORTED, RobotErrorInfo(
                code=ErrorCode.TIMEOUT,
                message=f"{self.name}: goal {request.goal_id} ({request.skill}) passed its "
                f"deadline of {request.deadline_s:g} s in its {plan.at(t)[1]} phase",
            )
        if self._clock.now() >= self._lease_expires:
            return GoalStatus.ABORTED, RobotErrorInfo(
                code=ErrorCode.LEASE_EXPIRED,
                message=f"{self.name}: the lease went stale during goal {request.goal_id} (no "
                "keep-alive within its ttl); the robot stopped",
            )
        return None

    async def _wait(self, goal: _Goal, seconds: float) -> bool:
        """Wait ``seconds`` of lab time; True if a stop request cut it short."""
        if goal.stop is not None:
            return True
        if seconds <= 0:
            return False
        try:
            async with self._clock.timeout(seconds):
                await goal.wake.wait()
        except TimeoutError:
            return False
        return True

    async def _settle(self, pose: Pose, t: float) -> tuple[Pose, list[RobotState]]:
        """Bring the arms in before power is cut (``settle_then_cut``)."""
        x, y = pose.base
        rest = Pose(joints=stow_joints((x, y, pose.joints[2]), hand_closed={}),
                    tool=(x, y, CARRY_HEIGHT_M))
        settle = Plan(segments=(Blend("settle", self._settle_s, pose.at_rest(), rest),))
        await self._clock.sleep(self._settle_s)
        samples = [self._sample(settle, s, offset=t) for s in self._grid(0.0, self._settle_s)]
        return rest, samples

    def _scan(
        self, plan: Plan, t0: float, t1: float
    ) -> tuple[list[RobotState], _Violation | None]:
        """The samples in ``(t0, t1]``, up to the first that breaks the safety policy, if any."""
        window: list[RobotState] = []
        times = self._grid(t0, t1)
        for t in times if times and times[-1] >= t1 - 1e-9 else [*times, t1]:
            state = self._sample(plan, t)
            error = self._policy.check_state(state)
            if t in times or error is not None:
                window.append(state)
            if error is not None:
                return window, _Violation(t, error)
        return window, None

    def _grid(self, t0: float, t1: float) -> list[float]:
        """Sample times in ``(t0, t1]`` on the ``state_hz`` grid."""
        first = math.floor(t0 / self._state_dt + 1e-9) + 1
        times: list[float] = []
        for k in itertools.count(first):
            t = k * self._state_dt
            if t > t1 + 1e-9:
                return times
            times.append(t)
        raise AssertionError("unreachable")  # pragma: no cover

    def _sample(self, plan: Plan, t: float, *, offset: float = 0.0) -> RobotState:
        """The state ``t`` into ``plan``.

        Measured joints trail the commanded ones by one sample period (the controller's tracking
        lag), as in a real joint-state stream.
        """
        commanded = plan.at(t)[0]
        measured = plan.at(max(0.0, t - self._state_dt))[0]
        return self._state_of(measured, commanded, t + offset)

    @staticmethod
    def _state_of(measured: Pose, commanded: Pose, t: float) -> RobotState:
        return RobotState(
            t_s=t,
            joints=measured.joints,
            command=commanded.joints,
            tool=measured.tool,
            speed_m_s=measured.speed_m_s,
            grip_force_n=measured.grip_force_n,
            torque_nm=measured.torque_nm,
            payload_kg=measured.payload_kg,
        )

    @staticmethod
    def _unchanged(pose: Pose, start: Pose) -> Pose:
        """Where a goal that did not succeed leaves the robot.

        Stopped where it was, holding what it held before: a slipped object is back in its slot,
        not in the hand.
        """
        return replace(
            pose,
            speed_m_s=0.0,
            grip_force_n=start.grip_force_n,
            payload_kg=start.payload_kg,
            torque_nm=0.0,
        )

    def _set(self, goal: _Goal, status: GoalStatus) -> None:
        check_transition(goal.status, status, goal_id=goal.request.goal_id)
        goal.status = status

    def _finish(
        self,
        goal: _Goal,
        status: GoalStatus,
        error: RobotErrorInfo | None,
        states: list[RobotState],
        final: Pose,
        t: float,
        outputs: dict[str, JsonValue] | None = None,
    ) -> None:
        """End ``goal`` with its one result."""
        if status is GoalStatus.CANCELLED and goal.status is not GoalStatus.CANCELING:
            self._set(goal, GoalStatus.CANCELING)
        self._set(goal, status)
        self._pose = final.at_rest()
        goal.events.put_nowait(
            GoalResult(
                goal_id=goal.request.goal_id,
                status=status,
                error=error,
                duration_s=t,
                outputs=outputs or {},
                states=tuple(states),
            )
        )

    def _remember(self, goal: _Goal) -> None:
        self._goals[goal.request.goal_id] = goal
        while len(self._goals) > _KEPT_GOALS:
            oldest = next(iter(self._goals.values()))
            if not oldest.status.terminal:
                break
            self._goals.popitem(last=False)
