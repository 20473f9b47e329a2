"""The KAPEX goal contract: goal states, stop levels and error codes, shared by robot and client.

Modelled on ROS 2 actions (``action_msgs/GoalStatus``) and Boston Dynamics' Spot SDK, because a
robot that ~100 teams share needs the semantics those two settled on:

* A skill is a **goal**. The robot answers a request at once with *accepted* or *rejected*; an
  accepted goal streams feedback and ends **exactly once** as ``succeeded``, ``cancelled`` (after a
  request: cancel, preemption) or ``aborted`` (the robot ended it: safety, timeout, failure)::

      (request) ──► rejected
          │
          ▼
      accepted ──► executing ──► succeeded | aborted
          │            │
          └────────────┴──► canceling ──► cancelled | aborted | succeeded

  ``succeeded`` after ``canceling`` is legal, as in ROS 2: the cancel arrived as the goal finished.
* Errors carry a code. The code, not the message, says whether trying again may help: only
  perception and grasp errors are retryable; a safety stop never is.

Why ``cancelled`` and not ROS's ``CANCELED``: CFL's episodes spell outcomes this way
(:data:`robots.episodes.Outcome`), and one spelling end to end avoids a translation table.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "TERMINAL",
    "ErrorCode",
    "GoalStatus",
    "RobotError",
    "RobotErrorInfo",
    "StopLevel",
    "check_transition",
]


class GoalStatus(StrEnum):
    """Where a goal is in its life (ROS 2 ``GoalStatus``, plus ``rejected`` for the answer)."""

    ACCEPTED = "accepted"
    EXECUTING = "executing"
    CANCELING = "canceling"
    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"
    ABORTED = "aborted"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        """Whether the goal has ended; a terminal status never changes again."""
        return self in TERMINAL


TERMINAL = frozenset(
    {GoalStatus.SUCCEEDED, GoalStatus.CANCELLED, GoalStatus.ABORTED, GoalStatus.REJECTED}
)

_NEXT: dict[GoalStatus, frozenset[GoalStatus]] = {
    GoalStatus.ACCEPTED: frozenset(
        {GoalStatus.EXECUTING, GoalStatus.CANCELING, GoalStatus.ABORTED}
    ),
    GoalStatus.EXECUTING: frozenset(
        {GoalStatus.SUCCEEDED, GoalStatus.ABORTED, GoalStatus.CANCELING}
    ),
    GoalStatus.CANCELING: frozenset(
        {GoalStatus.CANCELLED, GoalStatus.ABORTED, GoalStatus.SUCCEEDED}
    ),
}


def check_transition(old: GoalStatus, new: GoalStatus, *, goal_id: str) -> None:
    """Refuse a status change the contract does not allow (staying put is allowed).

    Both the simulated robot and the client check every change, so a transport that delivers a
    second result, or a result for a goal that already ended, is caught where it happens.

    Raises:
        ValueError: naming the goal and both statuses.
    """
    if old == new and not old.terminal:
        return
    if new not in _NEXT.get(old, frozenset()):
        raise ValueError(
            f"goal {goal_id}: {old.value} cannot become {new.value}; a goal ends exactly once "
            "(check the transport for duplicated or reordered messages)"
        )


class StopLevel(StrEnum):
    """How an e-stop stops the robot (Spot's e-stop levels)."""

    CUT = "cut"
    """Cut motor power now; the robot stops where it is."""
    SETTLE_THEN_CUT = "settle_then_cut"
    """Bring the arm and body to rest, then cut power."""


class ErrorCode(StrEnum):
    """Why a goal was rejected or did not succeed, or why a lease or e-stop call was refused."""

    # ownership and the request itself: answered before anything moves
    LEASE_INVALID = "lease_invalid"
    """The goal names no lease, or one that is not the robot's current lease."""
    LEASE_HELD = "lease_held"
    """Another owner holds the lease; the robot serves one owner at a time."""
    LEASE_EXPIRED = "lease_expired"
    """The lease went stale (no keep-alive) and the robot stopped."""
    BUSY = "busy"
    """A goal is running and the new one did not ask to preempt it."""
    UNSUPPORTED_SKILL = "unsupported_skill"
    BAD_ARGS = "bad_args"
    PRECONDITION_FAILED = "precondition_failed"
    """The world does not allow it: the hand is full, the object is elsewhere, no room there."""
    OPERATOR_REQUIRED = "operator_required"
    """Clearing an e-stop needs a named human operator (``human:<name>``)."""
    # safety: a rule of the safety policy, or the e-stop
    ESTOPPED = "estopped"
    WORKSPACE_VIOLATION = "workspace_violation"
    KEEP_OUT_VIOLATION = "keep_out_violation"
    FORCE_LIMIT = "force_limit"
    TORQUE_LIMIT = "torque_limit"
    PAYLOAD_LIMIT = "payload_limit"
    SPEED_LIMIT = "speed_limit"
    # execution
    GRASP_FAILED = "grasp_failed"
    """The object slipped or the grasp did not close on it."""
    OBJECT_NOT_FOUND = "object_not_found"
    """Perception did not find the object where it was expected."""
    TIMEOUT = "timeout"
    """The goal's deadline passed."""
    PREEMPTED = "preempted"
    """A newer goal replaced this one."""
    CANCELLED = "cancelled"
    TASK_FAILED = "task_failed"
    """A policy rollout (``run_policy``) ended without achieving its instruction."""
    HARDWARE_FAULT = "hardware_fault"
    TRANSPORT_LOST = "transport_lost"
    """The link to the robot dropped; what the robot did after that is not known."""

    @property
    def retryable(self) -> bool:
        """Whether the same goal may succeed if sent again: perception and grasp errors only."""
        return self in _RETRYABLE

    @property
    def safety(self) -> bool:
        """Whether a safety rule or the e-stop ended the goal; such a goal is never retried."""
        return self in _SAFETY


_RETRYABLE = frozenset({ErrorCode.GRASP_FAILED, ErrorCode.OBJECT_NOT_FOUND})
_SAFETY = frozenset(
    {
        ErrorCode.ESTOPPED,
        ErrorCode.WORKSPACE_VIOLATION,
        ErrorCode.KEEP_OUT_VIOLATION,
        ErrorCode.FORCE_LIMIT,
        ErrorCode.TORQUE_LIMIT,
        ErrorCode.PAYLOAD_LIMIT,
        ErrorCode.SPEED_LIMIT,
    }
)


class RobotErrorInfo(BaseModel):
    """An error as it travels in a message: the code decides, the message explains."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ErrorCode
    message: str
    retryable: bool = False
    """The code's own flag (:attr:`ErrorCode.retryable`), carried so a reader of the message need
    not know the table; whatever a sender puts here, the code decides."""

    @model_validator(mode="before")
    @classmethod
    def _retryable_from_code(cls, data: object) -> object:
        if isinstance(data, dict) and "code" in data:
            data = {**data, "retryable": ErrorCode(data["code"]).retryable}
        return data


class RobotError(Exception):
    """A robot-side refusal raised by a call that is not a goal (lease, e-stop, connect).

    Goals never raise it: their errors arrive in the result, so every goal still ends exactly
    once. The KAPEX driver translates it to a CFL error where it enters CFL.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.info = RobotErrorInfo(code=code, message=message)

    @property
    def code(self) -> ErrorCode:
        return self.info.code
