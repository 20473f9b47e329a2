"""How the simulated KAPEX carries out each skill: its segments, its checks, and its one effect.

A :class:`Plan` is made when a goal is accepted, from where the robot stands. It holds:

* the segments (walk, reach, grasp, lift...) with their durations (:class:`Timing`);
* checkpoints: things the robot finds out on the way, at a known time (perception at the end of
  the approach, a grasp that slips halfway through the lift), each either fine or an error that
  aborts the goal there;
* the commit: the skill's single effect on the shared bench (the vial leaves its slot, the vial is
  set down), applied at the goal's last instant and only if everything before it went well. A goal
  that ends any other way has changed nothing on the bench, so the orchestrator's world model,
  rolled back for such a goal, still matches it (a vial that slips falls back into its slot).

Failures are drawn when the goal is accepted, from a generator seeded by the campaign seed, the
robot, the skill and the object (:class:`FailureModel`), so a run is reproducible and a retry of
the same pick draws afresh, as a real second attempt would.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cfl.bench import Bench
from cfl.errors import DeviceFault
from robots.contract import ErrorCode, RobotErrorInfo
from robots.layout import Layout
from robots.safety import SafetyPolicy
from robots.sim.motion import (
    CARRY_HEIGHT_M,
    Blend,
    Pose,
    Segment,
    Side,
    Walk,
    hands,
    reach_joints,
    stow_joints,
    with_hand,
)
from robots.skills import (
    HandoverArgs,
    MoveToArgs,
    OpenDoorArgs,
    PickArgs,
    PipetteArgs,
    PlaceArgs,
    PourArgs,
    PressArgs,
    RunPolicyArgs,
    SkillArgs,
    TightenScrewArgs,
)

__all__ = ["Checkpoint", "FailureModel", "Plan", "Planner", "Timing"]

Rng = Callable[..., np.random.Generator]
"""``rng(*keys)``: a seeded generator (:meth:`cfl.devices.DeviceContext.rng`)."""


class Timing(BaseModel):
    """How fast the simulated robot works (lab seconds, metres)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    walk_speed_m_s: float = Field(default=0.3, gt=0, le=2)
    """Cruise speed carrying labware; the safety policy may lower it."""
    accel_m_s2: float = Field(default=0.3, gt=0, le=5)
    grasp_s: float = Field(default=8.0, gt=0)
    """A pick at the location: approach 3/8, close the hand 2/8, lift 3/8."""
    release_s: float = Field(default=6.0, gt=0)
    """A place at the location: lower 3/5, open the hand 2/5."""
    stow_s: float = Field(default=2.0, ge=0)
    """Bring a reaching arm back in before walking."""
    settle_s: float = Field(default=1.0, ge=0)
    """An e-stop at ``settle_then_cut``: time to come to rest before power is cut."""


class FailureModel(BaseModel):
    """Seeded chances that a goal fails the way real ones do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grasp_failure_rate: float = Field(default=0.0, ge=0, le=1)
    """Chance that a picked object slips out during the lift."""
    perception_failure_rate: float = Field(default=0.0, ge=0, le=1)
    """Chance that the object is not found at the end of the approach."""
    policy_failure_rate: float = Field(default=0.0, ge=0, le=1)
    """Chance that ``run_policy`` does not achieve its instruction."""
    object_mass_kg: float = Field(default=0.02, ge=0)
    """What an object weighs in the hand (a capped 20 mL vial)."""
    masses_kg: dict[str, float] = Field(default_factory=dict)
    """Objects that weigh something else, by id."""


@dataclass(frozen=True)
class Checkpoint:
    """Something the robot finds out at ``t_s`` into the goal; an error aborts it there."""

    t_s: float
    check: Callable[[], RobotErrorInfo | None]


@dataclass(frozen=True)
class Plan:
    """What one goal will do; see the module docstring."""

    segments: tuple[Segment, ...]
    checkpoints: tuple[Checkpoint, ...] = ()
    commit: Callable[[], RobotErrorInfo | None] = lambda: None
    outputs: Mapping[str, float | str] = field(default_factory=dict)
    holds_after: str | None = None
    """What the hand holds once the goal succeeded."""
    _memo: dict[float, tuple[Pose, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def duration_s(self) -> float:
        return self._ends[-1]

    @cached_property
    def _ends(self) -> tuple[float, ...]:
        return tuple(itertools.accumulate(s.duration_s for s in self.segments))

    def at(self, t_s: float) -> tuple[Pose, str]:
        """The pose and phase ``t_s`` into the goal (remembered: each sample asks twice)."""
        key = round(t_s, 6)
        known = self._memo.get(key)
        if known is None:
            known = self._memo[key] = self._at(t_s)
        return known

    def _at(self, t_s: float) -> tuple[Pose, str]:
        ends = self._ends
        index = min(bisect.bisect_left(ends, t_s), len(ends) - 1)
        segment = self.segments[index]
        return segment.at(t_s - (ends[index] - segment.duration_s)), segment.phase


class Planner:
    """Turns a skill into a :class:`Plan` for the robot's current pose.

    Args:
        name: The robot's device name (it holds vials on the bench under it).
        bench: The shared simulated bench.
        layout: Positions of the named locations.
        timing: Durations and speeds.
        failures: Failure chances and object masses.
        rng: Seeded generators for the failure draws.
    """

    def __init__(
        self,
        name: str,
        bench: Bench,
        layout: Layout,
        timing: Timing,
        failures: FailureModel,
        rng: Rng,
    ) -> None:
        self._name = name
        self._bench = bench
        self._layout = layout
        self._timing = timing
        self._failures = failures
        self._rng = rng

    def plan(
        self, args: SkillArgs, start: Pose, *, holding: str | None, policy: SafetyPolicy
    ) -> Plan:
        """The plan of ``args`` from ``start`` with ``holding`` in the hand, under ``policy``."""
        if isinstance(args, PickArgs):
            return self._pick(args, start, policy)
        if isinstance(args, PlaceArgs):
            return self._place(args, start, policy)
        if isinstance(args, HandoverArgs):
            return self._handover(args, start, policy)
        if isinstance(args, MoveToArgs):
            segments = self._go(args.location, start, policy, speed=args.speed_m_s)
            standing = (Blend("stand", 0.0, start, start),)
            return Plan(segments=segments or standing, holds_after=holding)
        if isinstance(args, RunPolicyArgs):
            return self._run_policy(args, start, policy, holding)
        return self._manipulate(args, start, policy, holding)

    # ----------------------------------------------------------------------------------- moves

    def _go(
        self, location: str, start: Pose, policy: SafetyPolicy, *, speed: float | None = None
    ) -> tuple[Segment, ...]:
        """Stow a reaching arm, then walk to ``location`` if not already there."""
        x, y, _ = self._layout.position(location)
        segments: list[Segment] = []
        pose = start
        stowed = self._stowed(pose)
        if math.dist(pose.base, (x, y)) < 1e-6:
            return ()
        if max(abs(a - b) for a, b in zip(stowed.joints, pose.joints, strict=True)) > 1e-9:
            segments.append(Blend("stow", self._timing.stow_s, pose, stowed))
            pose = stowed
        limit = policy.speed_limit_between(pose.tool, (x, y, CARRY_HEIGHT_M))
        cruise = min(self._timing.walk_speed_m_s, speed or math.inf, limit)
        segments.append(Walk("walk", pose, (x, y), cruise, self._timing.accel_m_s2))
        return tuple(segments)

    def _stowed(self, pose: Pose) -> Pose:
        """``pose`` with both arms tucked in, hands and forces as they are."""
        x, y = pose.base
        yaw = pose.joints[2]
        return replace(
            pose,
            joints=stow_joints((x, y, yaw), hand_closed=hands(pose.joints)),
            tool=(x, y, CARRY_HEIGHT_M),
            speed_m_s=0.0,
        )

    def _reach(
        self, stowed: Pose, side: Side, location: str, *, hand: float, **forces: float
    ) -> Pose:
        """The pose with the ``side`` hand at ``location``'s working point."""
        point = self._layout.position(location)
        joints = reach_joints(stowed.joints, side, point[2], hand=hand)
        return replace(stowed, joints=joints, tool=point, **forces)

    def _arrive(
        self, location: str, start: Pose, policy: SafetyPolicy
    ) -> tuple[list[Segment], Pose]:
        """The segments that bring the robot to ``location``, and its pose there."""
        segments = list(self._go(location, start, policy))
        return segments, (segments[-1].end if segments else start.at_rest())

    def _pick(self, args: PickArgs, start: Pose, policy: SafetyPolicy) -> Plan:
        t = self._timing
        segments, stood = self._arrive(args.location, start, policy)
        mass = self._failures.masses_kg.get(args.object, self._failures.object_mass_kg)
        open_at = self._reach(stood, args.hand, args.location, hand=0.0)
        closed = replace(
            open_at,
            joints=with_hand(open_at.joints, args.hand, 1.0),
            grip_force_n=args.grip_force_n,
        )
        carried = self._stowed(closed)
        lifted = replace(carried, joints=with_hand(carried.joints, args.hand, 1.0), payload_kg=mass)
        approach = Blend("approach", t.grasp_s * 3 / 8, stood, open_at)
        grasp = Blend("grasp", t.grasp_s * 2 / 8, open_at, closed)
        lift = Blend("lift", t.grasp_s * 3 / 8, closed, lifted)
        seen = sum(s.duration_s for s in segments) + approach.duration_s
        checkpoints = [Checkpoint(seen, lambda: self._look_for(args))]
        missed, slipped = self._rng(self._name, "pick", args.object).random(2)
        if missed < self._failures.perception_failure_rate:
            not_seen = RobotErrorInfo(
                code=ErrorCode.OBJECT_NOT_FOUND,
                message=f"{self._name}: {args.object} not seen at {args.location} (occluded or "
                "out of focus); looking again may find it",
            )
            checkpoints.append(Checkpoint(seen, lambda: not_seen))
        if slipped < self._failures.grasp_failure_rate:
            slip = RobotErrorInfo(
                code=ErrorCode.GRASP_FAILED,
                message=f"{self._name}: {args.object} slipped out of the {args.hand} hand during "
                f"the lift and fell back into {args.location}; a new grasp may hold it",
            )
            at = seen + grasp.duration_s + lift.duration_s / 2
            checkpoints.append(Checkpoint(at, lambda: slip))

        def commit() -> RobotErrorInfo | None:
            try:
                self._bench.take(args.object, args.location, robot=self._name)
            except DeviceFault as exc:
                return RobotErrorInfo(code=ErrorCode.OBJECT_NOT_FOUND, message=str(exc))
            return None

        return Plan(
            segments=(*segments, approach, grasp, lift),
            checkpoints=tuple(checkpoints),
            commit=commit,
            holds_after=args.object,
            outputs={"payload_kg": mass},
        )

    def _look_for(self, args: PickArgs) -> RobotErrorInfo | None:
        """Perception at the end of the approach: is the object where it should be?"""
        try:
            sample = self._bench.sample(args.object, device=self._name, command="pick")
        except DeviceFault:
            return None  # not on the bench yet: a supply location hands it out at the grasp
        if sample.held_by is None and sample.location == args.location:
            return None
        where = f"held by {sample.held_by}" if sample.held_by else f"at {sample.location}"
        return RobotErrorInfo(
            code=ErrorCode.OBJECT_NOT_FOUND,
            message=f"{self._name} cannot pick {args.object} at {args.location}: the sample is "
            f"{where}",
        )

    def _place(self, args: PlaceArgs, start: Pose, policy: SafetyPolicy) -> Plan:
        t = self._timing
        segments, stood = self._arrive(args.location, start, policy)
        lowered = self._reach(
            stood,
            args.hand,
            args.location,
            hand=1.0,
            grip_force_n=stood.grip_force_n,
            payload_kg=stood.payload_kg,
        )
        opened = replace(
            lowered,
            joints=with_hand(lowered.joints, args.hand, 0.0),
            grip_force_n=0.0,
            payload_kg=0.0,
        )

        def commit() -> RobotErrorInfo | None:
            try:
                self._bench.put(args.object, args.location, robot=self._name)
            except DeviceFault as exc:
                return RobotErrorInfo(
                    code=ErrorCode.PRECONDITION_FAILED, message=f"{exc}; the hand kept hold of it"
                )
            return None

        return Plan(
            segments=(
                *segments,
                Blend("lower", t.release_s * 3 / 5, stood, lowered),
                Blend("release", t.release_s * 2 / 5, lowered, opened),
            ),
            commit=commit,
        )

    def _handover(self, args: HandoverArgs, start: Pose, policy: SafetyPolicy) -> Plan:
        segments, stood = self._arrive(args.location, start, policy)
        offered = self._reach(
            stood,
            "right",
            args.location,
            hand=1.0,
            grip_force_n=stood.grip_force_n,
            payload_kg=stood.payload_kg,
        )
        taken = replace(
            offered,
            joints=with_hand(offered.joints, "right", 0.0),
            grip_force_n=0.0,
            payload_kg=0.0,
        )

        def commit() -> RobotErrorInfo | None:
            try:
                self._bench.put(args.object, args.location, robot=self._name)
            except DeviceFault as exc:
                return RobotErrorInfo(code=ErrorCode.PRECONDITION_FAILED, message=str(exc))
            return None

        return Plan(
            segments=(
                *segments,
                Blend("offer", 2.0, stood, offered),
                Blend("wait", 3.0, offered, offered),
                Blend("release", 1.5, offered, taken),
            ),
            commit=commit,
        )

    def _manipulate(
        self, args: SkillArgs, start: Pose, policy: SafetyPolicy, holding: str | None
    ) -> Plan:
        """Pour, pipette, open a door, press, tighten: reach, work for a while, come back.

        Pouring works with the hand that holds the source; the rest with a free hand.
        """
        (location,) = args.places
        segments, stood = self._arrive(location, start, policy)
        demands = args.demands()
        side: Side = "right" if holding is None or isinstance(args, PourArgs) else "left"
        reach = self._reach(
            stood,
            side,
            location,
            hand=hands(stood.joints)[side],
            grip_force_n=stood.grip_force_n,
            payload_kg=stood.payload_kg,
        )
        engaged = replace(
            reach,
            joints=with_hand(reach.joints, side, 1.0),
            grip_force_n=max(demands.grip_force_n, stood.grip_force_n),
        )
        work_s, phase, outputs = self._work(args)
        working = replace(
            engaged,
            torque_nm=demands.torque_nm,
            joints=reach_joints(engaged.joints, side, reach.tool[2], hand=1.0, wrist_roll=1.2),
        )
        return Plan(
            segments=(
                *segments,
                Blend("reach", 2.0, stood, reach),
                Blend("engage", 1.0, reach, engaged),
                Blend(phase, work_s, engaged, working),
                Blend("retract", 2.0, working, stood),
            ),
            holds_after=holding,
            outputs=outputs,
        )

    @staticmethod
    def _work(args: SkillArgs) -> tuple[float, str, dict[str, float | str]]:
        """How long the working phase of a manipulation lasts, its name, what it reports."""
        if isinstance(args, PourArgs):
            return args.volume_ml / args.rate_ml_s, "pour", {"volume_ml": args.volume_ml}
        if isinstance(args, PipetteArgs):
            return 8.0, "pipette", {"volume_ul": args.volume_ul}
        if isinstance(args, OpenDoorArgs):
            return 4.0, "swing", {"door": "closed" if args.close else "open"}
        if isinstance(args, PressArgs):
            return 1.0, "press", {"force_n": args.force_n}
        if isinstance(args, TightenScrewArgs):
            return 5.0, "turn", {"torque_nm": args.torque_nm}
        raise ValueError(f"no plan for skill {args.skill!r}")

    def _run_policy(
        self, args: RunPolicyArgs, start: Pose, policy: SafetyPolicy, holding: str | None
    ) -> Plan:
        """A rollout of the language-conditioned policy.

        The simulator has no model of what the policy does, so it moves nothing on the bench: the
        arm works for a time and at a height fixed by the instruction's hash, and the rollout
        fails at the seeded ``policy_failure_rate``.
        """
        segments: list[Segment] = []
        stood = start.at_rest()
        if args.location is not None:
            segments, stood = self._arrive(args.location, start, policy)
        digest = hashlib.sha256(args.instruction.encode()).digest()
        rollout_s = min(args.max_duration_s, 10.0 + digest[0] / 255 * 20.0)
        height = 0.8 + digest[1] / 255 * 0.4
        x, y = stood.base
        working = replace(
            stood,
            joints=reach_joints(stood.joints, "right", height, hand=0.5),
            tool=(x, y, height),
        )
        checkpoints: list[Checkpoint] = []
        if self._rng(self._name, "run_policy", args.instruction).random() < (
            self._failures.policy_failure_rate
        ):
            failed = RobotErrorInfo(
                code=ErrorCode.TASK_FAILED,
                message=f"{self._name}: policy {args.policy_id} did not achieve "
                f"{args.instruction!r} (it reported failure at the end of its rollout)",
            )
            at = sum(s.duration_s for s in segments) + rollout_s
            checkpoints.append(Checkpoint(at, lambda: failed))
        return Plan(
            segments=(
                *segments,
                Blend("policy", rollout_s, stood, working),
                Blend("retract", 2.0, working, stood),
            ),
            checkpoints=tuple(checkpoints),
            holds_after=holding,
        )
