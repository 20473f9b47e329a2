"""The messages between the KAPEX driver and a robot, whatever carries them.

Every message is a frozen pydantic model that round-trips through JSON
(``model_dump(mode="json")`` / ``model_validate``), so a transport can put them on any wire (gRPC,
SiLA 2 observable commands, a WebSocket) without knowing what they mean. ``robots/kapex/README.md``
lists which call carries which message.

Times in a goal's messages are lab seconds since the robot accepted the goal, on the robot's own
clock, so no clock synchronisation between orchestrator and robot is needed (Spot's absolute
``end_time`` needs one). Lengths are metres, forces newtons, torques newton-metres, masses
kilograms, positions in the lab frame (x, y on the floor, z up).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from robots.contract import GoalStatus, RobotErrorInfo, StopLevel

__all__ = [
    "CancelAnswer",
    "CancelResponse",
    "EstopState",
    "Feedback",
    "GoalEvent",
    "GoalRequest",
    "GoalResponse",
    "GoalResult",
    "Lease",
    "RobotInfo",
    "RobotState",
]

Point = tuple[float, float, float]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RobotState(_Message):
    """One sample of the robot: joints, the hand, what it feels."""

    t_s: float = Field(ge=0)
    """Seconds since the goal was accepted (0 outside a goal)."""
    joints: tuple[float, ...]
    """Measured joint positions, in the order of :attr:`RobotInfo.joint_names`."""
    command: tuple[float, ...]
    """Commanded joint targets at this instant, same order."""
    tool: Point
    """Where the hand is, in the lab frame; the safety policy's zones are checked against it."""
    speed_m_s: float = Field(default=0.0, ge=0)
    """Walking speed of the body."""
    grip_force_n: float = Field(default=0.0, ge=0)
    torque_nm: float = Field(default=0.0, ge=0)
    """Torque at the wrist or tool (tightening a screw, opening a door)."""
    payload_kg: float = Field(default=0.0, ge=0)
    """Mass the hand carries, as the wrist's force sensor weighs it."""


class RobotInfo(_Message):
    """What the robot says about itself when a transport connects."""

    serial: str
    robot_type: str
    """``kapex`` for the robot, ``kapex_sim`` for a simulator."""
    firmware: str
    is_sim: bool
    joint_names: tuple[str, ...]
    skills: tuple[str, ...]
    """Skills the robot accepts; a goal for any other is rejected ``unsupported_skill``."""
    state: RobotState
    """The robot's state now (``t_s`` 0)."""


class Lease(_Message):
    """The right to command the robot, held by one owner at a time (Spot's lease).

    A lease not renewed within ``ttl_s`` goes stale: the robot stops any goal and the next owner
    may acquire it.
    """

    lease_id: str
    owner: str
    ttl_s: float = Field(gt=0)
    sequence: int = Field(ge=1)
    """Counts leases granted by the robot; a newer lease outranks every older one."""


class GoalRequest(_Message):
    """A skill to run, with the lease that allows it and the deadline it must keep."""

    goal_id: str
    skill: str
    args: dict[str, JsonValue]
    """The skill's arguments, validated by :mod:`robots.skills` before they are sent."""
    instruction: str
    """The task in words; the dataset's ``task``, and the input of ``run_policy``."""
    lease_id: str | None
    deadline_s: float = Field(gt=0)
    """Seconds from acceptance within which the goal must end; the robot aborts it with
    ``timeout`` after that, so a lost orchestrator cannot leave it moving."""
    preempt: bool = False
    """Cancel a running goal (it ends ``cancelled``, code ``preempted``) instead of being
    rejected ``busy``."""


class GoalResponse(_Message):
    """The robot's immediate answer to a :class:`GoalRequest`."""

    goal_id: str
    accepted: bool
    error: RobotErrorInfo | None = None
    """Why it was rejected; ``None`` when accepted."""
    state: RobotState
    """The robot's state when it answered, so a rejected goal's episode has a frame."""


class Feedback(_Message):
    """Progress of a running goal, streamed until its result."""

    goal_id: str
    status: GoalStatus
    phase: str
    """What the robot is doing: ``walk``, ``approach``, ``grasp``, ``lift``, ``release``..."""
    progress: float = Field(ge=0, le=1)
    """Share of the goal's planned time done."""
    states: tuple[RobotState, ...]
    """Samples since the previous feedback, oldest first, at the robot's state rate."""


class GoalResult(_Message):
    """How a goal ended: sent exactly once per accepted goal, as its last message."""

    goal_id: str
    status: GoalStatus
    """``succeeded``, ``cancelled`` or ``aborted``."""
    error: RobotErrorInfo | None = None
    """Why it did not succeed; ``None`` when it did."""
    duration_s: float = Field(ge=0)
    """Seconds from acceptance to this result."""
    outputs: dict[str, JsonValue] = Field(default_factory=dict)
    """What the skill reports (the volume poured, the torque reached)."""
    states: tuple[RobotState, ...] = ()
    """Samples since the last feedback, up to the end."""


GoalEvent = Feedback | GoalResult
"""What a goal's event stream carries: feedback, then exactly one result."""


class CancelAnswer(StrEnum):
    """The robot's answer to a cancel request (ROS 2 ``CancelGoal`` return codes)."""

    ACCEPTED = "accepted"
    """The goal is canceling; its result follows on its event stream."""
    UNKNOWN_GOAL = "unknown_goal"
    GOAL_TERMINATED = "goal_terminated"
    """It had already ended; nothing changes."""


class CancelResponse(_Message):
    goal_id: str
    answer: CancelAnswer


class EstopState(_Message):
    """The e-stop channel's state. While engaged, every goal is rejected ``estopped``."""

    engaged: bool
    level: StopLevel | None = None
    reason: str = ""
    engaged_by: str | None = None
    cleared_by: str | None = None
    """The human operator who cleared the last e-stop."""
