"""The KAPEX robot as SiLA 2 features (originator ``com.kapex``, category ``robot``).

Three features, one per channel of the robot contract (``robots/kapex/README.md``), written with
:mod:`cfl.wire.fdl` like CFL's instrument features:

* ``RobotLease`` (``com.kapex/robot/RobotLease/v1``): ``Acquire``, ``Renew``, ``Release``.
* ``RobotEStop``: ``Engage``, ``Clear`` and the property ``State``; no lease needed, and served
  while goals stream (gRPC multiplexes calls on one connection).
* ``RobotGoals``: the property ``Info``; ``SetSafetyPolicy``; ``SubmitGoal`` (unobservable: the
  answer is at once accepted or rejected); ``FollowGoal``, an observable command whose
  intermediate responses are the goal's feedback and whose response is its one result (SiLA's
  observable commands end exactly once, like goals); ``FeedbackSince``, which hands a follower the
  feedback it missed; ``CancelGoal``.

Wire shapes:

* **Messages travel as JSON** in SiLA ``String`` fields: the JSON of the pydantic models of
  :mod:`robots.messages` (``model_dump_json`` / ``model_validate_json``). SiLA 2 has no JSON type,
  and those models *are* the contract: mirroring each as SiLA structures would be a second
  definition to keep in step (a ``RobotState`` has 8 fields, a ``GoalRequest`` free-form
  arguments), for no reader who does not already speak the contract.
* **Refusals** (:class:`~robots.contract.RobotError`: ``lease_held``, ``lease_invalid``,
  ``lease_expired``, ``operator_required``, ``bad_args``) are one Defined Execution Error,
  ``RobotRefused``, whose message is the JSON of :class:`~robots.contract.RobotErrorInfo`
  (``{"code": ..., "message": ..., "retryable": ...}``); see :mod:`robots.sila.codec`. One error
  with the code inside, rather than one per code, because the code list is the contract's and
  grows with it; a client decides by code, exactly as over any other transport.
* **Feedback is numbered.** ``FollowGoal`` sends each feedback with its ``Index`` (0, 1, ...) and
  answers with the result and ``FeedbackCount``. A SiLA client subscribes to intermediate
  responses only after the command has started, and ``sila2`` does not replay what was sent before
  (only the latest item), so a follower that sees a gap, or fewer items than ``FeedbackCount``,
  fetches the missing ones with ``FeedbackSince``: the server keeps every goal's events from the
  moment it accepted it. Following a goal, even one that has ended, therefore yields every event
  exactly once, in order.
* **Times are real seconds** where the client sets them or acts on them: the lease's
  ``TimeToLive`` (and the ``ttl_s`` of the ``Lease`` it gets back) and the goal's ``deadline_s``.
  A goal's own timeline (``RobotState.t_s``, ``GoalResult.duration_s``) and speeds are on the
  robot's clock, as they are in every transport: for a simulator served on a sped-up clock that
  is the simulated clock (see :mod:`robots.sila.host`).
"""

from __future__ import annotations

from functools import cache

from sila2.framework import Feature

from cfl.wire.fdl import (
    INTEGER,
    REAL,
    STRING,
    Command,
    Element,
    ErrorDefinition,
    FeatureDefinition,
    Property,
    list_of,
    one_of,
    with_unit,
)
from robots.contract import StopLevel

__all__ = [
    "CATEGORY",
    "FEATURES",
    "ORIGINATOR",
    "REFUSED",
    "ROBOT_ESTOP",
    "ROBOT_GOALS",
    "ROBOT_LEASE",
    "sila_feature",
]

ORIGINATOR = "com.kapex"
CATEGORY = "robot"

REFUSED = ErrorDefinition(
    "RobotRefused",
    "The robot refused the call (robots.contract.RobotError). The message is the JSON of "
    'robots.contract.RobotErrorInfo, {"code": ..., "message": ..., "retryable": ...}: the code '
    "(lease_held, lease_invalid, lease_expired, operator_required, bad_args) says why, the "
    "message says what to do.",
)
_REFUSED = (REFUSED.identifier,)

_SECONDS = with_unit(REAL, "s", "Second")
_LEASE_ID = Element("LeaseId", "The lease's id, as Acquire returned it.", STRING)
_GOAL_ID = Element("GoalId", "The goal's id, as the GoalRequest named it.", STRING)


def _json(identifier: str, model: str, description: str = "") -> Element:
    """A String element holding the JSON of a model of :mod:`robots.messages`."""
    text = f"The JSON of {model} (robots/kapex/README.md)."
    return Element(identifier, f"{description} {text}".strip(), STRING)


def _command(
    identifier: str,
    description: str,
    parameters: tuple[Element, ...] = (),
    responses: tuple[Element, ...] = (),
    errors: tuple[str, ...] = (),
) -> Command:
    return Command(identifier, description, False, parameters, responses, errors)


def _feature(
    identifier: str,
    description: str,
    commands: tuple[Command, ...],
    properties: tuple[Property, ...] = (),
) -> FeatureDefinition:
    return FeatureDefinition(
        identifier,
        description,
        ORIGINATOR,
        CATEGORY,
        commands=commands,
        properties=properties,
        errors=(REFUSED,),
    )


ROBOT_LEASE = _feature(
    "RobotLease",
    "The right to command the robot, held by one owner at a time (Spot's lease). A lease not "
    "renewed within its time to live goes stale: the robot stops any goal and anyone may take it.",
    (
        _command(
            "Acquire",
            "Take the lease for Owner, or renew it if Owner holds it already. Refused lease_held "
            "while another owner's lease is fresh.",
            (
                Element("Owner", "Who asks, e.g. cfl/KIST-Seoul/team-7/kapex-1.", STRING),
                Element(
                    "TimeToLive", "Real seconds the lease stays fresh without renewal.", _SECONDS
                ),
            ),
            (_json("Lease", "robots.messages.Lease", "The lease; ttl_s in real seconds."),),
            _REFUSED,
        ),
        _command(
            "Renew",
            "Keep the lease fresh for another time to live. Refused lease_expired if it went "
            "stale first, lease_invalid if it is not the current lease.",
            (_LEASE_ID,),
            (_json("Lease", "robots.messages.Lease", "The lease; ttl_s in real seconds."),),
            _REFUSED,
        ),
        _command(
            "Release",
            "Give the lease up; releasing a lease that is no longer current does nothing.",
            (_LEASE_ID,),
        ),
    ),
)

_STATE = _json("State", "robots.messages.EstopState", "The e-stop channel's state.")

ROBOT_ESTOP = _feature(
    "RobotEStop",
    "The robot's e-stop channel: needs no lease and is served while goals run. While engaged, "
    "the running goal ends aborted (estopped) and every new goal is rejected estopped.",
    (
        _command(
            "Engage",
            "Engage the e-stop: cut stops where the robot is, settle_then_cut brings the arms in "
            "first.",
            (
                Element("Level", "How to stop.", one_of(STRING, tuple(StopLevel))),
                Element("Reason", "Why, for the people who clear it.", STRING),
                Element("By", "Who engaged it: human:<name>, cfl:safety-monitor, ...", STRING),
            ),
            (_STATE,),
        ),
        _command(
            "Clear",
            "Release the e-stop after a person has checked the robot. Only a named human "
            "(human:<name>) may; anyone else is refused operator_required.",
            (Element("Operator", "The person, as human:<name>.", STRING),),
            (_STATE,),
            _REFUSED,
        ),
    ),
    (
        Property(
            "State",
            "The e-stop channel's state, as the JSON of robots.messages.EstopState.",
            False,
            STRING,
        ),
    ),
)

ROBOT_GOALS = _feature(
    "RobotGoals",
    "Skills as goals (ROS 2 actions): submitted and answered accepted or rejected, followed "
    "through their feedback to exactly one result, cancelled on request.",
    (
        _command(
            "SetSafetyPolicy",
            "Have the robot enforce the policy (workspace and keep-out boxes, force, torque, "
            "payload and speed limits) from the next goal on.",
            (_json("Policy", "robots.safety.SafetyPolicy"),),
            errors=_REFUSED,
        ),
        _command(
            "SubmitGoal",
            "Submit a goal. The answer is accepted or rejected (with the error's code), never an "
            "error: RobotRefused only for a request that is not a GoalRequest. deadline_s is in "
            "real seconds from acceptance; the robot aborts the goal with timeout when it passes.",
            (_json("Request", "robots.messages.GoalRequest"),),
            (_json("Response", "robots.messages.GoalResponse"),),
            _REFUSED,
        ),
        Command(
            "FollowGoal",
            "Follow an accepted goal, from its acceptance, to its end (even one that has ended "
            "already): its feedback as intermediate responses, its one result as the response. "
            "Refused bad_args for a goal the robot does not know.",
            observable=True,
            parameters=(_GOAL_ID,),
            responses=(
                _json("Result", "robots.messages.GoalResult", "How the goal ended."),
                Element(
                    "FeedbackCount",
                    "How many feedback messages came before the result; fetch any not received "
                    "with FeedbackSince.",
                    INTEGER,
                ),
            ),
            errors=_REFUSED,
            intermediate_responses=(
                Element("Index", "The feedback's number in the goal: 0, 1, 2, ...", INTEGER),
                _json("Feedback", "robots.messages.Feedback"),
            ),
        ),
        _command(
            "FeedbackSince",
            "The goal's feedback from number Index on, as far as it has come: for a follower "
            "that missed some (it subscribed late, or a message was lost).",
            (_GOAL_ID, Element("Index", "The first feedback number wanted.", INTEGER)),
            (
                Element(
                    "Feedback",
                    "Feedback Index, Index + 1, ..., each the JSON of robots.messages.Feedback.",
                    list_of(STRING),
                ),
            ),
            _REFUSED,
        ),
        _command(
            "CancelGoal",
            "Ask the robot to cancel a goal; its result still ends its FollowGoal.",
            (_GOAL_ID,),
            (_json("Response", "robots.messages.CancelResponse"),),
        ),
    ),
    (
        Property(
            "Info",
            "What the robot is: serial, type, firmware, joints, skills and its state now, as the "
            "JSON of robots.messages.RobotInfo.",
            False,
            STRING,
        ),
    ),
)

FEATURES = (ROBOT_LEASE, ROBOT_ESTOP, ROBOT_GOALS)
"""The features a served KAPEX implements."""


@cache
def sila_feature(definition: FeatureDefinition) -> Feature:
    """The ``sila2`` feature object of ``definition``, compiled once per process.

    Compiling runs protoc and validates the FDL against the XSD (tens of milliseconds).
    """
    return Feature(definition.xml())
