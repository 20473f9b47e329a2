"""A session with one KAPEX: connection, lease, e-stop, goals, and what each goal leaves behind.

This is the contract as a caller uses it, over any transport:

* :meth:`KapexClient.connect` checks the robot is the one the lab file names (its serial) and gives
  it the safety policy.
* :meth:`KapexClient.acquire_lease` takes the lease and keeps it alive (:mod:`robots.kapex.lease`).
* :meth:`KapexClient.submit` sends a skill as a goal and returns its :class:`GoalHandle`. Before
  anything is sent, the arguments are validated (:mod:`robots.skills`), the safety policy is
  checked on what the goal states, and the world model on what it assumes; a goal that fails any
  of these is rejected without reaching the robot. The deadline travels with the goal; if the
  robot has not ended it ``deadline_grace_s`` after its deadline, the client cancels it and ends it
  itself as ``timeout``.
* While the goal runs, every state sample is checked against the safety policy again; a robot
  that breaks it is e-stopped (``settle_then_cut``) and the goal ends with the violation.
* When the goal ends, however it ends, its world-model transaction is committed (succeeded) or
  rolled back (anything else), and its episode goes to the sink.
* :meth:`KapexClient.estop` needs no lease. :meth:`KapexClient.clear_estop` needs a named human
  (``human:<name>``); it is not a skill, so no agent is ever offered it.

Nothing here knows CFL's device protocols; :mod:`robots.kapex.driver` adapts this to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, JsonValue

from cfl.clock import LabClock
from robots.contract import ErrorCode, GoalStatus, RobotError, RobotErrorInfo, StopLevel
from robots.episodes import EpisodeSink
from robots.kapex.goals import GoalHandle
from robots.kapex.lease import LeaseKeeper
from robots.kapex.transport import KapexTransport, TransportError, TransportTimeout
from robots.layout import Layout
from robots.messages import EstopState, GoalRequest, GoalResult, Lease, RobotInfo, RobotState
from robots.recording import Provenance, episode_of, utc_stamp
from robots.safety import SafetyPolicy
from robots.skills import SkillArgs, catalogue, dump_args, parse_skill
from robots.world import Transaction, WorldModel

__all__ = ["Capabilities", "KapexClient"]

logger = logging.getLogger(__name__)


class Capabilities(BaseModel):
    """What the robot can do and under which rules, as a caller or an agent is shown it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    robot: RobotInfo
    skills: dict[str, dict[str, JsonValue]]
    """The skills both the robot and this driver know, with their argument schemas."""
    policy: SafetyPolicy


class KapexClient:
    """A session with one robot; see the module docstring.

    Args:
        name: The device name (the robot's hands are ``<name>/right`` in the world model).
        transport: The connection to the robot.
        serial: The serial the robot must report.
        policy: The safety policy.
        layout: Positions of named locations.
        world: The lab's world model.
        clock: The lab clock.
        owner: Who the lease is held for.
        lease_ttl_s: Lease lifetime without renewal.
        lease_idle_release_s: Idle time after which the lease is given up.
        goal_deadline_s: Deadline of goals submitted without one.
        deadline_grace_s: How long past a deadline the client waits before ending a goal itself.
        sink: Where episodes go; ``None``: not recorded.
        provenance: Site, team and campaign for the episodes.
        record_fps: Frame rate of the episodes.
    """

    def __init__(
        self,
        name: str,
        *,
        transport: KapexTransport,
        serial: str,
        policy: SafetyPolicy,
        layout: Layout,
        world: WorldModel,
        clock: LabClock,
        owner: str,
        lease_ttl_s: float = 10.0,
        lease_idle_release_s: float = 900.0,
        goal_deadline_s: float = 240.0,
        deadline_grace_s: float = 10.0,
        sink: EpisodeSink | None = None,
        provenance: tuple[str | None, str | None, str | None] = (None, None, None),
        record_fps: float = 10.0,
    ) -> None:
        self.name = name
        self.transport = transport
        self.serial = serial
        self.policy = policy
        self.layout = layout
        self.world = world
        self._clock = clock
        self._deadline_s = goal_deadline_s
        self._grace_s = deadline_grace_s
        self._sink = sink
        self._provenance = provenance
        self._fps = record_fps
        self.lease_keeper = LeaseKeeper(
            lambda: self.transport,
            owner=owner,
            ttl_s=lease_ttl_s,
            idle_release_s=lease_idle_release_s,
            clock=clock,
        )
        self.info: RobotInfo | None = None
        """The robot, while connected."""
        self.robot: RobotInfo | None = None
        """The robot as it last reported itself (kept across disconnects, for provenance)."""
        self.active: GoalHandle | None = None
        """The goal the robot is running, if any."""
        self._last_state: RobotState | None = None
        self._supervisors: set[asyncio.Task[None]] = set()
        self._last_try: tuple[tuple[object, ...], int, bool] | None = None

    # ------------------------------------------------------------------------- session

    async def connect(self) -> RobotInfo:
        """Open the link (if not open), check the robot's serial, give it the safety policy.

        Raises:
            RobotError: ``precondition_failed`` when the robot is not the one configured.
            TransportError: the link cannot be made.
        """
        if self.info is not None:
            return self.info
        info = await self.transport.open()
        if info.serial != self.serial:
            await self.transport.close()
            raise RobotError(
                ErrorCode.PRECONDITION_FAILED,
                f"{self.name}: connected to robot {info.serial}, but the lab file names "
                f"{self.serial}; fix the address or the serial",
            )
        await self.transport.set_safety_policy(self.policy)
        self.info = self.robot = info
        self._last_state = info.state
        return info

    async def disconnect(self) -> None:
        """End the session: cancel the running goal, give the lease up, close the link."""
        active = self.active
        if active is not None and not active.done:
            with contextlib.suppress(TransportError, RobotError):
                await active.cancel()
            with contextlib.suppress(TimeoutError):
                async with self._clock.timeout(self._grace_s):
                    await active.result()
        for task in list(self._supervisors):
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        await self.lease_keeper.release()
        if self.info is not None:
            self.info = None
            with contextlib.suppress(TransportError):
                await self.transport.close()

    def capabilities(self) -> Capabilities:
        """What the connected robot can do under this policy (connect first)."""
        if self.info is None:
            raise RuntimeError(f"{self.name}: connect before asking for capabilities")
        skills = {k: v for k, v in catalogue().items() if k in self.info.skills}
        return Capabilities(robot=self.info, skills=skills, policy=self.policy)

    # --------------------------------------------------------------------------- lease

    @property
    def lease(self) -> Lease | None:
        return self.lease_keeper.lease

    async def acquire_lease(self) -> Lease:
        """Take the lease (if not held) and keep it alive while goals run.

        Raises:
            RobotError: ``lease_held`` when another owner holds it.
            TransportError: the link is down.
        """
        await self.connect()
        return await self.lease_keeper.acquire()

    async def release_lease(self) -> None:
        await self.lease_keeper.release()

    # -------------------------------------------------------------------------- e-stop

    async def estop(
        self, level: StopLevel = StopLevel.SETTLE_THEN_CUT, reason: str = "", by: str = "cfl"
    ) -> EstopState:
        """Stop the robot; no lease needed. The running goal ends ``aborted``/``estopped``."""
        await self.connect()
        return await self.transport.estop(level, reason or "e-stop requested", by)

    async def clear_estop(self, operator: str) -> EstopState:
        """Release the e-stop after a person has checked the robot.

        Args:
            operator: The person, as ``human:<name>``; anything else is refused.

        Raises:
            RobotError: ``operator_required``.
        """
        await self.connect()
        return await self.transport.clear_estop(operator)

    async def estop_state(self) -> EstopState:
        await self.connect()
        return await self.transport.estop_state()

    # --------------------------------------------------------------------------- goals

    async def run(
        self,
        skill: str,
        args: Mapping[str, JsonValue],
        *,
        instruction: str | None = None,
        deadline_s: float | None = None,
        preempt: bool = False,
    ) -> GoalResult:
        """Submit a goal and wait for its result (see :meth:`submit`)."""
        handle = await self.submit(
            skill, args, instruction=instruction, deadline_s=deadline_s, preempt=preempt
        )
        return await handle.result()

    async def submit(
        self,
        skill: str,
        args: Mapping[str, JsonValue],
        *,
        instruction: str | None = None,
        deadline_s: float | None = None,
        preempt: bool = False,
    ) -> GoalHandle:
        """Send ``skill`` as a goal; the handle says whether it was accepted and how it ended.

        Never raises for the goal's own sake: rejections, failures and a lost link end the goal
        with a result. Raises only what :meth:`connect` raises.
        """
        await self.connect()
        lease = self.lease_keeper.lease
        request = GoalRequest(
            goal_id=f"{self.name}-{uuid.uuid4().hex[:16]}",
            skill=skill,
            args=dict(args),
            instruction=instruction or skill,
            lease_id=None if lease is None else lease.lease_id,
            deadline_s=deadline_s or self._deadline_s,
            preempt=preempt,
        )
        try:
            parsed = parse_skill(skill, args)
        except RobotError as exc:
            return self._ended_unsent(request, None, None, GoalStatus.REJECTED, exc.info)
        request = request.model_copy(
            update={
                "args": dump_args(parsed),
                "instruction": instruction or parsed.default_instruction(),
            }
        )
        violation = self.policy.check_goal(parsed, self.layout)
        if violation is not None:
            return self._ended_unsent(request, parsed, None, GoalStatus.REJECTED, violation)
        transaction = self.world.begin(request.goal_id)
        problem = transaction.check(parsed, self.name)
        if problem is not None:
            return self._ended_unsent(request, parsed, transaction, GoalStatus.REJECTED, problem)
        return await self._send(request, parsed, transaction)

    async def _send(
        self, request: GoalRequest, args: SkillArgs, transaction: Transaction
    ) -> GoalHandle:
        try:
            async with self._clock.timeout(request.deadline_s + self._grace_s):
                response = await self.transport.send_goal(request)
        except (TimeoutError, TransportTimeout):
            await self._cancel_quietly(request.goal_id)  # it may have arrived after all
            error = RobotErrorInfo(
                code=ErrorCode.TIMEOUT,
                message=f"{self.name} did not answer goal {request.goal_id} ({request.skill}); "
                "it was cancelled in case it arrived",
            )
            return self._ended_unsent(request, args, transaction, GoalStatus.ABORTED, error)
        except TransportError as exc:
            self.info = None  # reconnect for the next goal
            error = RobotErrorInfo(
                code=ErrorCode.TRANSPORT_LOST,
                message=f"{self.name}: link lost sending goal {request.goal_id} "
                f"({request.skill}): {exc}; check the robot before trying again",
            )
            return self._ended_unsent(request, args, transaction, GoalStatus.ABORTED, error)
        self._last_state = response.state
        if not response.accepted:
            assert response.error is not None
            return self._ended_unsent(
                request, args, transaction, GoalStatus.REJECTED, response.error
            )
        transaction.stage(args, self.name)
        handle = self._handle(request, args)
        self.active = handle
        self.lease_keeper.begin_use()
        task = asyncio.get_running_loop().create_task(self._supervise(handle, transaction))
        self._supervisors.add(task)
        task.add_done_callback(self._supervisors.discard)
        return handle

    def _handle(self, request: GoalRequest, args: SkillArgs | None) -> GoalHandle:
        handle = GoalHandle(request, args, lambda: self._cancel(request.goal_id))
        handle.accepted_at = self._clock.now()
        last = self._last_try
        retrying = last is not None and last[0] == _key(request.skill, args) and last[2]
        handle.attempt = last[1] + 1 if last is not None and retrying else 1
        return handle

    async def _cancel(self, goal_id: str) -> None:
        await self.transport.cancel_goal(goal_id)

    async def _cancel_quietly(self, goal_id: str) -> None:
        with contextlib.suppress(TransportError, RobotError, TimeoutError):
            async with self._clock.timeout(self._grace_s):
                await self.transport.cancel_goal(goal_id)

    async def _supervise(self, handle: GoalHandle, transaction: Transaction) -> None:
        """Follow a goal to its result; see the module docstring."""
        request = handle.request
        result: GoalResult | None = None
        unsafe: RobotErrorInfo | None = None
        try:
            async with self._clock.timeout(request.deadline_s + self._grace_s):
                async for event in self.transport.goal_events(request.goal_id):
                    if unsafe is None:
                        unsafe = await self._watch(event.states)
                    if isinstance(event, GoalResult):
                        result = event
                        break
                    handle.on_event(event)
            if result is None:
                result = self._client_result(
                    handle, ErrorCode.TRANSPORT_LOST, "the goal's event stream ended without a "
                    "result",
                )
        except TimeoutError:
            await self._cancel_quietly(request.goal_id)
            result = self._client_result(
                handle,
                ErrorCode.TIMEOUT,
                f"{self.name} did not end goal {request.goal_id} ({request.skill}) within its "
                f"deadline of {request.deadline_s:g} s (+{self._grace_s:g} s); it was cancelled",
            )
        except TransportError as exc:
            self.info = None
            result = self._client_result(
                handle,
                ErrorCode.TRANSPORT_LOST,
                f"{self.name}: link lost during goal {request.goal_id} ({request.skill}): {exc}; "
                "what the robot did after that is not known: check it before trying again",
            )
        except asyncio.CancelledError:
            result = self._client_result(
                handle, ErrorCode.CANCELLED, f"{self.name}: the session closed during the goal"
            )
            self._end(handle, transaction, result)
            raise
        if not result.status.terminal:
            result = self._client_result(
                handle, ErrorCode.HARDWARE_FAULT, f"robot sent a {result.status.value} result"
            )
        if unsafe is not None and result.status is not GoalStatus.SUCCEEDED:
            result = result.model_copy(update={"status": GoalStatus.ABORTED, "error": unsafe})
        self._end(handle, transaction, result)

    async def _watch(self, states: tuple[RobotState, ...]) -> RobotErrorInfo | None:
        """Check samples against the policy; e-stop a robot that broke it (so it ignored it)."""
        for state in states:
            violation = self.policy.check_state(state)
            if violation is not None:
                logger.error("%s broke the safety policy: %s", self.name, violation.message)
                with contextlib.suppress(TransportError, RobotError):
                    await self.transport.estop(
                        StopLevel.SETTLE_THEN_CUT, violation.message, "cfl:safety-monitor"
                    )
                return violation
        return None

    def _client_result(self, handle: GoalHandle, code: ErrorCode, message: str) -> GoalResult:
        """A result the client gives a goal the robot did not end (lost link, no answer)."""
        return GoalResult(
            goal_id=handle.goal_id,
            status=GoalStatus.CANCELLED if code is ErrorCode.CANCELLED else GoalStatus.ABORTED,
            error=RobotErrorInfo(code=code, message=message),
            duration_s=max(0.0, self._clock.now() - handle.accepted_at),
        )

    def _ended_unsent(
        self,
        request: GoalRequest,
        args: SkillArgs | None,
        transaction: Transaction | None,
        status: GoalStatus,
        error: RobotErrorInfo,
    ) -> GoalHandle:
        """A goal that ended before the robot ran it: refused, or lost on the way."""
        handle = self._handle(request, args)
        result = GoalResult(goal_id=request.goal_id, status=status, error=error, duration_s=0.0)
        self._end(handle, transaction, result, begun=False)
        return handle

    def _end(
        self,
        handle: GoalHandle,
        transaction: Transaction | None,
        result: GoalResult,
        *,
        begun: bool = True,
    ) -> None:
        """Close the goal's transaction, finish its handle, record its episode: once."""
        if transaction is not None:
            if result.status is GoalStatus.SUCCEEDED:
                transaction.commit()
            else:
                transaction.rollback()
        handle.finish(result)
        if begun:
            self.lease_keeper.end_use()
        if self.active is handle:
            self.active = None
        if handle.states:
            self._last_state = handle.states[-1]
        retryable = result.error is not None and result.error.code.retryable
        self._last_try = (_key(handle.skill, handle.args), handle.attempt, retryable)
        self._record(handle, result)

    def _record(self, handle: GoalHandle, result: GoalResult) -> None:
        info = self.robot
        if self._sink is None or info is None:
            return
        states = handle.states or ([self._last_state] if self._last_state is not None else [])
        site, team, campaign = self._provenance
        episode = episode_of(
            provenance=Provenance(site=site, team=team, campaign=campaign, robot=info),
            goal_id=handle.goal_id,
            skill=handle.skill,
            args=dict(handle.request.args),
            objects=handle.args.objects if handle.args else (),
            instruction=handle.request.instruction,
            status=result.status,
            error=result.error,
            attempts=handle.attempt,
            started_at=utc_stamp(handle.started_at),
            duration_s=result.duration_s,
            states=states,
            fps=self._fps,
        )
        try:
            self._sink.write(episode)
        except Exception:  # a lost recording must not fail the robot's work; it is logged
            logger.exception("%s: episode of goal %s was not recorded", self.name, handle.goal_id)


def _key(skill: str, args: SkillArgs | None) -> tuple[object, ...]:
    """What makes two goals the same attempt: the skill, its objects and its places."""
    return (skill, *(args.objects if args else ()), *(args.places if args else ()))
