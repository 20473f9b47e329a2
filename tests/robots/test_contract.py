"""The goal contract: the state machine ends a goal exactly once; codes decide retry and safety."""

from __future__ import annotations

import json

import pytest

from robots.contract import (
    TERMINAL,
    ErrorCode,
    GoalStatus,
    RobotErrorInfo,
    StopLevel,
    check_transition,
)
from robots.messages import (
    CancelAnswer,
    CancelResponse,
    EstopState,
    Feedback,
    GoalRequest,
    GoalResponse,
    GoalResult,
    Lease,
    RobotState,
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (GoalStatus.ACCEPTED, GoalStatus.EXECUTING),
        (GoalStatus.EXECUTING, GoalStatus.EXECUTING),
        (GoalStatus.EXECUTING, GoalStatus.SUCCEEDED),
        (GoalStatus.EXECUTING, GoalStatus.CANCELING),
        (GoalStatus.CANCELING, GoalStatus.CANCELLED),
        (GoalStatus.CANCELING, GoalStatus.SUCCEEDED),  # the cancel came too late, as in ROS 2
        (GoalStatus.EXECUTING, GoalStatus.ABORTED),
    ],
)
def test_the_contract_allows_the_ros2_transitions(old: GoalStatus, new: GoalStatus) -> None:
    check_transition(old, new, goal_id="g")


@pytest.mark.parametrize("ended", sorted(TERMINAL))
@pytest.mark.parametrize("then", list(GoalStatus))
def test_a_goal_that_ended_never_changes_again(ended: GoalStatus, then: GoalStatus) -> None:
    with pytest.raises(ValueError, match=f"goal g: {ended.value} cannot become {then.value}"):
        check_transition(ended, then, goal_id="g")


def test_cancelled_only_after_canceling() -> None:
    with pytest.raises(ValueError, match="executing cannot become cancelled"):
        check_transition(GoalStatus.EXECUTING, GoalStatus.CANCELLED, goal_id="g")


def test_only_perception_and_grasp_errors_are_retryable_and_no_safety_error_is() -> None:
    retryable = {code for code in ErrorCode if code.retryable}
    safety = {code for code in ErrorCode if code.safety}
    assert retryable == {ErrorCode.GRASP_FAILED, ErrorCode.OBJECT_NOT_FOUND}
    assert ErrorCode.ESTOPPED in safety and ErrorCode.WORKSPACE_VIOLATION in safety
    assert not retryable & safety


def test_an_error_message_carries_its_retryable_flag_on_the_wire() -> None:
    info = RobotErrorInfo(code=ErrorCode.GRASP_FAILED, message="slipped")
    wire = info.model_dump(mode="json")
    assert wire == {"code": "grasp_failed", "message": "slipped", "retryable": True}


def test_every_message_round_trips_through_json() -> None:
    state = RobotState(t_s=1.5, joints=(0.4, 0.1), command=(0.5, 0.1), tool=(0.4, 0.0, 1.0))
    error = RobotErrorInfo(code=ErrorCode.LEASE_INVALID, message="acquire the lease first")
    messages = [
        Lease(lease_id="L-1", owner="cfl/site/team/kapex-1", ttl_s=10, sequence=1),
        GoalRequest(goal_id="g", skill="pick", args={"object": "S1", "location": "rack"},
                    instruction="pick up S1", lease_id="L-1", deadline_s=240),
        GoalResponse(goal_id="g", accepted=False, error=error, state=state),
        Feedback(goal_id="g", status=GoalStatus.EXECUTING, phase="walk", progress=0.5,
                 states=(state,)),
        GoalResult(goal_id="g", status=GoalStatus.ABORTED, error=error, duration_s=2.0,
                   outputs={"payload_kg": 0.02}, states=(state,)),
        CancelResponse(goal_id="g", answer=CancelAnswer.GOAL_TERMINATED),
        EstopState(engaged=True, level=StopLevel.CUT, reason="spill", engaged_by="human:lee"),
    ]
    for message in messages:
        wire = json.loads(json.dumps(message.model_dump(mode="json")))
        assert type(message).model_validate(wire) == message


def test_the_code_decides_retryable_whatever_the_sender_says() -> None:
    info = RobotErrorInfo.model_validate(
        {"code": "estopped", "message": "stop", "retryable": True}
    )
    assert info.retryable is False
