"""The client's view of one goal: its status, its feedback, and its one result.

What :meth:`robots.kapex.client.KapexClient.submit` returns, as a ROS 2 action client's goal
handle: the status follows the contract's state machine (:func:`robots.contract.check_transition`
is applied to every event, so a transport that delivers a second result is caught), feedback is
kept and passed to listeners as it arrives, and :meth:`GoalHandle.result` waits for the end. A
rejected goal is a handle that is already finished, with status ``rejected``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from robots.contract import GoalStatus, RobotErrorInfo, check_transition
from robots.messages import Feedback, GoalEvent, GoalRequest, GoalResult, RobotState
from robots.skills import SkillArgs

__all__ = ["FeedbackListener", "GoalHandle"]

FeedbackListener = Callable[[Feedback], None]


class GoalHandle:
    """One goal as the client sees it; see the module docstring.

    Args:
        request: The goal as sent.
        args: Its validated arguments.
        canceller: Asks the robot to cancel it.
    """

    def __init__(
        self,
        request: GoalRequest,
        args: SkillArgs | None,
        canceller: Callable[[], Awaitable[None]],
    ) -> None:
        self.request = request
        self.args = args
        self.status = GoalStatus.ACCEPTED
        self.feedback: list[Feedback] = []
        self.states: list[RobotState] = []
        """Every state sample received, in order (what the episode is made from)."""
        self.started_at = datetime.now().astimezone()
        """Wall-clock time the goal was sent (an episode's ``started_at``)."""
        self.accepted_at = 0.0
        """Lab time the goal was sent."""
        self.attempt = 1
        """1 for a first try; n for the n-th try in a row after retryable failures."""
        self._canceller = canceller
        self._listeners: list[FeedbackListener] = []
        self._done: asyncio.Future[GoalResult] = asyncio.get_running_loop().create_future()

    @property
    def goal_id(self) -> str:
        return self.request.goal_id

    @property
    def skill(self) -> str:
        return self.request.skill

    @property
    def done(self) -> bool:
        return self._done.done()

    def listen(self, listener: FeedbackListener) -> None:
        """Call ``listener`` with every later feedback."""
        self._listeners.append(listener)

    async def result(self) -> GoalResult:
        """Wait for the goal's one result (waiting is safe to cancel: the goal goes on)."""
        return await asyncio.shield(self._done)

    async def cancel(self) -> None:
        """Ask the robot to cancel the goal; its result tells how it ended."""
        if not self.done:
            await self._canceller()

    def on_event(self, event: GoalEvent) -> None:
        """Take one event from the robot, checking it against the state machine."""
        if isinstance(event, GoalResult):
            raise TypeError("results end a goal through finish(), not on_event()")
        check_transition(self.status, event.status, goal_id=self.goal_id)
        self.status = event.status
        self.feedback.append(event)
        self.states.extend(event.states)
        for listener in self._listeners:
            listener(event)

    def finish(self, result: GoalResult) -> None:
        """End the goal with ``result``; a second result is refused (it ends exactly once)."""
        if self.done:
            raise ValueError(
                f"goal {self.goal_id} already ended {self.status.value}; a second result "
                f"({result.status.value}) breaks the contract"
            )
        if not result.status.terminal:
            raise ValueError(
                f"goal {self.goal_id}: a result must be terminal, got {result.status.value}"
            )
        self.status = result.status
        self.states.extend(result.states)
        self._done.set_result(result)

    @property
    def error(self) -> RobotErrorInfo | None:
        """Why the goal did not succeed, once it has ended."""
        return self._done.result().error if self.done else None
