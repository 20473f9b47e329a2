"""Kinematics of the simulated KAPEX: joints, postures, and the motion segments of its skills.

The simulator is kinematic: no physics, only where every joint is at every instant, which is what
the timing, the safety checks and the recorded episodes need. A skill is a list of segments
(walk, then blends between postures); each segment gives the robot's :class:`Pose` at any time in
it, so a goal cancelled at 3.7 s stops at exactly the pose of 3.7 s.

The body: a walking base (``base_x``, ``base_y``, ``base_yaw``: a humanoid's floating base on the
floor), a torso pitch, and two arms of shoulder pitch and roll, elbow, wrist pitch and roll, and a
hand (``*_hand``: 0 open, 1 closed). Arm postures come from a planar two-link inverse kinematics of
the hand height, so a low shelf bends the elbow more than a bench does.

Walking follows a trapezoidal speed profile: accelerate at ``accel_m_s2`` to the cruise speed,
cruise, decelerate to a stop, i.e. ``d / v + v / a`` seconds for a walk long enough to reach
cruise speed (``2 * sqrt(d / a)`` otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from robots.layout import Point

__all__ = [
    "CARRY_HEIGHT_M",
    "JOINT_NAMES",
    "Blend",
    "Pose",
    "Segment",
    "Walk",
    "hands",
    "reach_joints",
    "stow_joints",
    "walk_time_s",
    "with_hand",
]

Side = Literal["right", "left"]

JOINT_NAMES: tuple[str, ...] = (
    "base_x",
    "base_y",
    "base_yaw",
    "torso_pitch",
    *(
        f"{side}_{joint}"
        for side in ("right", "left")
        for joint in (
            "shoulder_pitch",
            "shoulder_roll",
            "elbow",
            "wrist_pitch",
            "wrist_roll",
            "hand",
        )
    ),
)
_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

CARRY_HEIGHT_M = 1.0
"""Height the hand is carried at while walking."""
_SHOULDER_HEIGHT_M = 1.35
_REACH_FORWARD_M = 0.40
_UPPER_ARM_M = 0.32
_FOREARM_M = 0.30


@dataclass(frozen=True, slots=True)
class Pose:
    """Everything the simulator knows about the robot at one instant."""

    joints: tuple[float, ...]
    tool: Point
    """Where the working hand is, in the lab frame."""
    speed_m_s: float = 0.0
    grip_force_n: float = 0.0
    torque_nm: float = 0.0
    payload_kg: float = 0.0

    @property
    def base(self) -> tuple[float, float]:
        return self.joints[_INDEX["base_x"]], self.joints[_INDEX["base_y"]]

    def at_rest(self) -> Pose:
        """The same pose, standing still."""
        return replace(self, speed_m_s=0.0)


def _arm(joints: list[float], side: Side, values: dict[str, float]) -> None:
    for joint, value in values.items():
        joints[_INDEX[f"{side}_{joint}"]] = value


def stow_joints(base: tuple[float, float, float], *, hand_closed: dict[Side, float]) -> tuple[
    float, ...
]:
    """Standing at ``base`` (x, y, yaw), arms tucked in to carry, hands as given."""
    joints = [0.0] * len(JOINT_NAMES)
    joints[0], joints[1], joints[2] = base
    for side in ("right", "left"):
        _arm(joints, side, {"shoulder_pitch": 0.35, "shoulder_roll": 0.10, "elbow": 1.60,
                            "wrist_pitch": -0.40, "wrist_roll": 0.0,
                            "hand": hand_closed.get(side, 0.0)})
    return tuple(joints)


def reach_joints(
    stowed: tuple[float, ...], side: Side, height_m: float, *, hand: float, wrist_roll: float = 0.0
) -> tuple[float, ...]:
    """``stowed`` with the ``side`` arm reaching forward to a hand height of ``height_m``."""
    joints = list(stowed)
    dz = height_m - _SHOULDER_HEIGHT_M
    torso = 0.0
    if height_m < 0.7:  # bend the torso forward to reach low places
        torso = min(0.6, (0.7 - height_m) * 1.2)
        dz += 0.5 * math.sin(torso)
    r = min(math.hypot(_REACH_FORWARD_M, dz), _UPPER_ARM_M + _FOREARM_M - 1e-3)
    cos_elbow = (_UPPER_ARM_M**2 + _FOREARM_M**2 - r**2) / (2 * _UPPER_ARM_M * _FOREARM_M)
    elbow = math.pi - math.acos(max(-1.0, min(1.0, cos_elbow)))
    cos_inner = (_UPPER_ARM_M**2 + r**2 - _FOREARM_M**2) / (2 * _UPPER_ARM_M * r)
    shoulder = -(math.atan2(dz, _REACH_FORWARD_M) + math.acos(max(-1.0, min(1.0, cos_inner))))
    joints[_INDEX["torso_pitch"]] = torso
    _arm(joints, side, {"shoulder_pitch": shoulder + math.pi / 2, "shoulder_roll": 0.05,
                        "elbow": elbow, "wrist_pitch": -(shoulder + elbow) / 2,
                        "wrist_roll": wrist_roll, "hand": hand})
    return tuple(joints)


def with_hand(joints: tuple[float, ...], side: Side, closed: float) -> tuple[float, ...]:
    """``joints`` with the ``side`` hand at ``closed`` (0 open, 1 closed)."""
    values = list(joints)
    values[_INDEX[f"{side}_hand"]] = closed
    return tuple(values)


def hands(joints: tuple[float, ...]) -> dict[Side, float]:
    """How closed each hand is."""
    return {"right": joints[_INDEX["right_hand"]], "left": joints[_INDEX["left_hand"]]}


def _smooth(s: float) -> float:
    """Cosine ease-in/out on [0, 1]: zero velocity at both ends, as a joint controller moves."""
    s = min(1.0, max(0.0, s))
    return 0.5 - 0.5 * math.cos(math.pi * s)


class Segment:
    """One stretch of a skill: a phase name, a duration, and the pose at any time in it."""

    phase: str
    duration_s: float

    def at(self, t_s: float) -> Pose:  # pragma: no cover - every segment overrides it
        raise NotImplementedError

    @property
    def end(self) -> Pose:
        return self.at(self.duration_s).at_rest()


@dataclass(frozen=True)
class Blend(Segment):
    """Move smoothly from one pose to another in place (reach, grasp, lift, pour...)."""

    phase: str
    duration_s: float
    start: Pose
    target: Pose

    @cached_property
    def _deltas(self) -> tuple[float, ...]:
        """Target minus start of every blended quantity: joints, tool, grip, torque, payload."""
        return tuple(y - x for x, y in zip(_flat(self.start), _flat(self.target), strict=True))

    def at(self, t_s: float) -> Pose:
        s = _smooth(t_s / self.duration_s) if self.duration_s > 0 else 1.0
        if s >= 1.0:
            return self.target  # exactly, so a finished blend compares equal to its target
        v = [x + d * s for x, d in zip(_flat(self.start), self._deltas, strict=True)]
        n = len(self.start.joints)
        return Pose(
            joints=tuple(v[:n]),
            tool=(v[n], v[n + 1], v[n + 2]),
            grip_force_n=v[n + 3],
            torque_nm=v[n + 4],
            payload_kg=v[n + 5],
        )


def _flat(pose: Pose) -> tuple[float, ...]:
    return (*pose.joints, *pose.tool, pose.grip_force_n, pose.torque_nm, pose.payload_kg)


@dataclass(frozen=True)
class Walk(Segment):
    """Walk in a straight line, arms stowed, on a trapezoidal speed profile."""

    phase: str
    start: Pose
    goal: tuple[float, float]
    speed_m_s: float
    accel_m_s2: float

    @cached_property
    def distance_m(self) -> float:
        return math.dist(self.start.base, self.goal)

    @cached_property
    def duration_s(self) -> float:  # type: ignore[override]
        return walk_time_s(self.distance_m, self.speed_m_s, self.accel_m_s2)

    def _travelled(self, t_s: float) -> tuple[float, float]:
        """Distance covered and speed at ``t_s``."""
        d, v, a = self.distance_m, self.speed_m_s, self.accel_m_s2
        total = self.duration_s
        t = min(max(t_s, 0.0), total)
        peak = min(v, math.sqrt(d * a))  # a short walk never reaches cruise speed
        ramp = peak / a
        if t < ramp:
            return 0.5 * a * t * t, a * t
        if t <= total - ramp:
            return 0.5 * a * ramp * ramp + peak * (t - ramp), peak
        left = total - t
        return d - 0.5 * a * left * left, a * left

    def at(self, t_s: float) -> Pose:
        (x0, y0), (x1, y1) = self.start.base, self.goal
        d = self.distance_m
        travelled, speed = self._travelled(t_s)
        f = travelled / d if d > 0 else 1.0
        x, y = x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
        joints = list(self.start.joints)
        joints[_INDEX["base_x"]], joints[_INDEX["base_y"]] = x, y
        if d > 0:
            joints[_INDEX["base_yaw"]] = math.atan2(y1 - y0, x1 - x0)
        return replace(
            self.start, joints=tuple(joints), tool=(x, y, CARRY_HEIGHT_M), speed_m_s=speed
        )


def walk_time_s(distance_m: float, speed_m_s: float, accel_m_s2: float) -> float:
    """Seconds to walk ``distance_m`` from standstill to standstill (module docstring)."""
    if distance_m <= 0:
        return 0.0
    if distance_m >= speed_m_s**2 / accel_m_s2:
        return distance_m / speed_m_s + speed_m_s / accel_m_s2
    return 2 * math.sqrt(distance_m / accel_m_s2)
