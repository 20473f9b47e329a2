"""``sila2`` implementations of the robot features: each SiLA 2 call to a :class:`RobotHost` call.

As in :mod:`instruments.sila.servicers`, ``sila2`` finds the methods by the FDL identifiers
(``Acquire(Owner, TimeToLive, *, metadata)``, ``get_State(*, metadata)``, an observable
``FollowGoal(GoalId, *, metadata, instance)``) and passes parameters positionally in FDL order, so
the methods name them like the FDL does. Each method only converts (:mod:`robots.sila.codec`) and
calls the host; a :class:`~robots.contract.RobotError` becomes the ``RobotRefused`` Defined
Execution Error here. Anything else (the server stopping mid-call) reaches the client as an
Undefined Execution Error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sila2.framework import DefinedExecutionError
from sila2.server import (
    FeatureImplementationBase,
    MetadataDict,
    ObservableCommandInstanceWithIntermediateResponses,
    SilaServer,
)

from cfl.wire.fdl import FeatureDefinition
from robots.contract import RobotError, StopLevel
from robots.messages import GoalRequest, GoalResult
from robots.safety import SafetyPolicy
from robots.sila import features as f
from robots.sila.codec import from_wire, refusal_to_wire, to_wire
from robots.sila.features import sila_feature
from robots.sila.host import RobotHost

__all__ = ["RobotEStopImpl", "RobotGoalsImpl", "RobotLeaseImpl"]


class _Impl(FeatureImplementationBase):
    """Base: holds the host; turns refusals into ``RobotRefused``; wakes followers on stop."""

    feature: FeatureDefinition

    def __init__(self, parent_server: SilaServer, host: RobotHost) -> None:
        super().__init__(parent_server=parent_server)
        self._host = host

    def stop(self) -> None:
        # SilaServer.stop() waits for every FollowGoal to return: wake them first.
        self._host.close()
        super().stop()

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        try:
            yield
        except RobotError as exc:
            node = sila_feature(self.feature).defined_execution_errors[f.REFUSED.identifier]
            raise DefinedExecutionError(node, refusal_to_wire(exc)) from exc


class RobotLeaseImpl(_Impl):
    feature = f.ROBOT_LEASE

    def Acquire(self, Owner: str, TimeToLive: float, *, metadata: MetadataDict) -> str:
        with self._refusals():
            return to_wire(self._host.acquire_lease(Owner, TimeToLive))

    def Renew(self, LeaseId: str, *, metadata: MetadataDict) -> str:
        with self._refusals():
            return to_wire(self._host.renew_lease(LeaseId))

    def Release(self, LeaseId: str, *, metadata: MetadataDict) -> None:
        self._host.release_lease(LeaseId)


class RobotEStopImpl(_Impl):
    feature = f.ROBOT_ESTOP

    def Engage(self, Level: str, Reason: str, By: str, *, metadata: MetadataDict) -> str:
        return to_wire(self._host.estop(StopLevel(Level), Reason, By))

    def Clear(self, Operator: str, *, metadata: MetadataDict) -> str:
        with self._refusals():
            return to_wire(self._host.clear_estop(Operator))

    def get_State(self, *, metadata: MetadataDict) -> str:
        return to_wire(self._host.estop_state())


class RobotGoalsImpl(_Impl):
    feature = f.ROBOT_GOALS

    def get_Info(self, *, metadata: MetadataDict) -> str:
        return to_wire(self._host.info())

    def SetSafetyPolicy(self, Policy: str, *, metadata: MetadataDict) -> None:
        with self._refusals():
            self._host.set_policy(from_wire(SafetyPolicy, Policy, what="Policy"))

    def SubmitGoal(self, Request: str, *, metadata: MetadataDict) -> str:
        with self._refusals():
            request = from_wire(GoalRequest, Request, what="Request of SubmitGoal")
        return to_wire(self._host.submit(request))

    def FollowGoal(
        self,
        GoalId: str,
        *,
        metadata: MetadataDict,
        instance: ObservableCommandInstanceWithIntermediateResponses[dict[str, Any]],
    ) -> dict[str, Any]:
        with self._refusals():
            log = self._host.log(GoalId)
        instance.begin_execution()
        index = 0
        while True:
            event = log.event(index)
            if isinstance(event, GoalResult):
                return {"Result": to_wire(event), "FeedbackCount": index}
            instance.send_intermediate_response({"Index": index, "Feedback": to_wire(event)})
            instance.progress = event.progress  # type: ignore[misc]  # sila2 declares the setter apart
            index += 1

    def FeedbackSince(self, GoalId: str, Index: int, *, metadata: MetadataDict) -> list[str]:
        with self._refusals():
            log = self._host.log(GoalId)
        return [to_wire(feedback) for feedback in log.feedback_since(Index)]

    def CancelGoal(self, GoalId: str, *, metadata: MetadataDict) -> str:
        return to_wire(self._host.cancel(GoalId))
