"""``transport: sila``: a KAPEX reached over SiLA 2, as served by :mod:`robots.sila.server`.

:class:`SilaTransport` implements :class:`~robots.kapex.transport.KapexTransport` with the
``sila2`` client, at the lab file's ``address`` (``DeviceContext.address``)::

    kapex-1:
      driver: kapex
      role: robot
      address: 127.0.0.1:50055
      options:
        transport: sila
        transport_options: {connect_timeout_s: 5, call_timeout_s: 10}   # optional
        serial: KPX-SIM-0001
        safety: {...}                   # required, as for any transport but sim

It uses ``sila2``'s ``SilaClient`` directly rather than :class:`instruments.sila.client.
SilaConnection`, which fits instruments but not this contract: it turns every failure into CFL's
device errors (a Defined Execution Error it does not know becomes ``DeviceFault`` with the code
buried in its text), follows observable commands by polling, without intermediate responses, and
has no per-call timeout; a transport must raise ``RobotError``, ``TransportLost`` and
``TransportTimeout`` instead, and stream feedback. The address format is the same
(:func:`cfl.wire.address.split_address`).

Errors are translated once, in :meth:`SilaTransport._call` and while following a goal:

* ``RobotRefused`` -> :class:`~robots.contract.RobotError` with its code and message;
* nothing listening, a dropped connection, a broken stream -> :class:`TransportLost` (the client
  is dropped, and the next call dials afresh), as is any other SiLA error (an Undefined Execution
  Error: the server could not carry the call out);
* no answer within ``call_timeout_s`` -> :class:`TransportTimeout`.

Following a goal (:meth:`SilaTransport.goal_events`) starts ``FollowGoal`` and reads its
intermediate responses, numbered; feedback sent before the subscription began, or otherwise
missed, is fetched with ``FeedbackSince`` before anything later is yielded, and the result's
``FeedbackCount`` says whether any is still missing at the end. So every feedback arrives exactly
once, in order, then the one result, however late following began (the server logs goals' events
from acceptance). E-stop calls share the connection with goal streams: gRPC multiplexes calls on
it, so an e-stop is never queued behind a goal.

Durations on the wire are real seconds (a lease's ``ttl_s``, a goal's ``deadline_s``), as with a
real robot; the server converts them for a simulator on a sped-up clock (:mod:`robots.sila.host`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
from pydantic import BaseModel, ConfigDict, Field
from sila2.client import SilaClient
from sila2.framework import (
    CommandExecutionNotFinished,
    DefinedExecutionError,
    SilaConnectionError,
    SilaError,
)

from cfl.devices import DeviceContext
from cfl.wire.address import DIALLING, split_address
from robots.contract import RobotError, StopLevel
from robots.kapex.options import KapexOptions
from robots.kapex.transport import TransportLost, TransportTimeout
from robots.messages import (
    CancelResponse,
    EstopState,
    Feedback,
    GoalEvent,
    GoalRequest,
    GoalResponse,
    GoalResult,
    Lease,
    RobotInfo,
)
from robots.safety import SafetyPolicy
from robots.sila.codec import from_wire, refusal_from_wire, to_wire
from robots.sila.features import REFUSED, ROBOT_GOALS

__all__ = ["SilaTransport", "SilaTransportOptions"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_FIRST_POLL_S = 0.005
_LAST_POLL_S = 0.25


class SilaTransportOptions(BaseModel):
    """``transport_options`` of ``transport: sila`` (all optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Real seconds to wait for the robot's server when connecting."""
    call_timeout_s: float = Field(default=10.0, gt=0)
    """Real seconds a call may take before it is given up as unanswered (``TransportTimeout``)."""


class SilaTransport:
    """A connection to a KAPEX's SiLA 2 server; see the module docstring.

    Args:
        name: The robot's device name, for messages.
        address: ``host:port`` of its server; ``None`` (no address in the lab file) is refused
            when the transport is opened.
        options: Timeouts.
    """

    def __init__(
        self, name: str, address: str | None, options: SilaTransportOptions | None = None
    ) -> None:
        self.name = name
        self.address = address
        self.options = options or SilaTransportOptions()
        self._client: SilaClient | None = None
        self._dialing = asyncio.Lock()

    @classmethod
    def build(cls, name: str, options: KapexOptions, context: DeviceContext) -> SilaTransport:
        """The transport factory for ``transport: sila``; connects on :meth:`open`, not here."""
        transport_options = SilaTransportOptions.model_validate(options.transport_options)
        return cls(name, context.address, transport_options)

    # ------------------------------------------------------------------------ connection

    @property
    def _where(self) -> str:
        return f"the robot {self.name} at {self.address}"

    async def _connected(self) -> Any:
        """The connected ``SilaClient``, dialled if need be."""
        async with self._dialing:
            if self._client is None:
                self._client = await self._dial()
            return self._client

    async def _dial(self) -> SilaClient:
        if self.address is None:
            raise TransportLost(
                f"{self.name} has no address in the lab file; give it address: HOST:PORT, where "
                "its SiLA 2 server listens"
            )
        try:
            host, port = split_address(self.address)
        except ValueError as exc:
            raise TransportLost(f"{self.name}: {exc}; fix its address in the lab file") from exc
        abandoned = threading.Event()
        timeout_s = self.options.connect_timeout_s
        fix = "start its server (for a simulated lab: cfl sim serve LAB) or fix its address"
        try:
            client = await asyncio.wait_for(
                asyncio.to_thread(_dial, host, port, abandoned, timeout_s=timeout_s), timeout_s
            )
        except TimeoutError as exc:
            abandoned.set()
            raise TransportLost(
                f"cannot reach {self._where}: no answer within {timeout_s:g} s; {fix}"
            ) from exc
        except (SilaConnectionError, SilaError, grpc.RpcError, OSError) as exc:
            raise TransportLost(f"cannot reach {self._where} ({_describe(exc)}); {fix}") from exc
        except (RuntimeError, ValueError, KeyError) as exc:  # not a (usable) SiLA 2 server
            raise TransportLost(
                f"{self.address} answered, but not as a SiLA 2 server ({exc}); check the address "
                f"of {self.name}"
            ) from exc
        if getattr(client, ROBOT_GOALS.identifier, None) is None:
            await asyncio.to_thread(_close_quietly, client)
            raise TransportLost(
                f"the SiLA 2 server at {self.address} is not a KAPEX robot (it has no "
                f"{ROBOT_GOALS.fully_qualified_identifier}); check the address of {self.name}"
            )
        return client

    def _forget(self, client: Any) -> None:
        """Drop a client whose connection failed; the next call dials afresh."""
        if self._client is client:
            self._client = None
            threading.Thread(target=_close_quietly, args=(client,), daemon=True).start()

    async def _call(self, label: str, call: Callable[[Any], T]) -> T:
        """``call(client)`` on a worker thread, within ``call_timeout_s``, errors translated."""
        client = await self._connected()
        timeout_s = self.options.call_timeout_s
        try:
            return await asyncio.wait_for(asyncio.to_thread(call, client), timeout_s)
        except TimeoutError as exc:
            # sila2's calls have no deadline: closing the connection ends the unanswered call
            # (and frees its thread); the next call dials afresh.
            self._forget(client)
            raise TransportTimeout(
                f"{self._where} did not answer {label} within {timeout_s:g} s"
            ) from exc
        except (SilaError, SilaConnectionError, grpc.RpcError) as exc:
            raise self._translate(exc, label, client) from exc

    def _translate(self, exc: Exception, label: str, client: Any) -> Exception:
        if isinstance(exc, DefinedExecutionError) and exc.identifier == REFUSED.identifier:
            return refusal_from_wire(exc.message)
        if isinstance(exc, SilaError):  # it answered, with an error the contract does not define
            return TransportLost(
                f"{self._where} could not carry out {label} ({type(exc).__name__}: {exc}); check "
                "the robot and its server before trying again"
            )
        self._forget(client)
        return TransportLost(f"lost the link to {self._where} during {label} ({_describe(exc)})")

    def _decode(self, model: type[M], text: str, label: str) -> M:
        try:
            return from_wire(model, text, what=f"the answer to {label}")
        except RobotError as exc:
            raise TransportLost(f"{self._where} answered {label} with {exc.info.message}") from exc

    async def open(self) -> RobotInfo:
        text = await self._call("Info", lambda c: c.RobotGoals.Info.get())
        return self._decode(RobotInfo, text, "Info")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(_close_quietly, client)

    # --------------------------------------------------------------------------- lease

    async def acquire_lease(self, owner: str, ttl_s: float) -> Lease:
        text = await self._call(
            "Acquire", lambda c: c.RobotLease.Acquire(Owner=owner, TimeToLive=ttl_s).Lease
        )
        return self._decode(Lease, text, "Acquire")

    async def renew_lease(self, lease_id: str) -> Lease:
        text = await self._call("Renew", lambda c: c.RobotLease.Renew(LeaseId=lease_id).Lease)
        return self._decode(Lease, text, "Renew")

    async def release_lease(self, lease_id: str) -> None:
        await self._call("Release", lambda c: c.RobotLease.Release(LeaseId=lease_id))

    async def set_safety_policy(self, policy: SafetyPolicy) -> None:
        policy_json = to_wire(policy)
        await self._call(
            "SetSafetyPolicy", lambda c: c.RobotGoals.SetSafetyPolicy(Policy=policy_json)
        )

    # --------------------------------------------------------------------------- goals

    async def send_goal(self, request: GoalRequest) -> GoalResponse:
        request_json = to_wire(request)
        text = await self._call(
            f"SubmitGoal {request.goal_id}",
            lambda c: c.RobotGoals.SubmitGoal(Request=request_json).Response,
        )
        return self._decode(GoalResponse, text, "SubmitGoal")

    async def goal_events(self, goal_id: str) -> AsyncIterator[GoalEvent]:
        """The goal's feedback, each once and in order, then its result; see the module docstring.

        Raises:
            TransportLost: the link dropped, or the robot no longer knows the goal (its server
                restarted): what the robot did is not known.
            TransportTimeout: the robot did not answer a call in time.
        """
        label = f"FollowGoal {goal_id}"
        try:
            instance = await self._call(label, lambda c: c.RobotGoals.FollowGoal(GoalId=goal_id))
        except RobotError as exc:
            raise self._unknown(goal_id, exc) from exc
        client = self._client
        received = 0
        try:
            try:
                stream = _Relay(instance.subscribe_to_intermediate_responses())
            except Exception as exc:  # grpc: the channel closed meanwhile (another call failed)
                raise TransportLost(
                    f"lost the link to {self._where} as {label} began ({exc})"
                ) from exc
            try:
                while (item := await self._next(stream, label, client)) is not None:
                    index = int(item.Index)
                    if index > received:  # sent before we listened, or lost: fetch from the log
                        for feedback in await self._feedback_since(goal_id, received):
                            yield feedback
                            received += 1
                    if index == received:
                        yield self._decode(Feedback, item.Feedback, label)
                        received += 1
            finally:
                stream.cancel()
            responses = await self._responses(instance, goal_id, label)
        finally:
            instance.cancel_execution_info_subscription()
        missing = int(responses.FeedbackCount) - received
        if missing > 0:
            for feedback in (await self._feedback_since(goal_id, received))[:missing]:
                yield feedback
        yield self._decode(GoalResult, responses.Result, label)

    async def _next(self, stream: _Relay, label: str, client: Any) -> Any | None:
        """The next intermediate response; ``None`` when the stream has ended."""
        item = await stream.next()
        if item is _END:
            return None
        if isinstance(item, grpc.RpcError):
            if SilaError.is_sila_error(item):  # the server ended the stream with an error:
                return None  # the command's responses say how it ended
            raise self._translate(item, label, client) from item
        if isinstance(item, Exception):  # sila2 could not read an item
            raise TransportLost(
                f"{self._where} sent {label} what it cannot read ({type(item).__name__}: {item})"
            ) from item
        return item

    async def _responses(self, instance: Any, goal_id: str, label: str) -> Any:
        """``FollowGoal``'s responses, once the command has ended."""
        delay = _FIRST_POLL_S
        while True:
            try:
                responses = await self._call(label, lambda _: _responses_or_none(instance))
            except RobotError as exc:
                raise self._unknown(goal_id, exc) from exc
            if responses is not None:
                return responses
            await asyncio.sleep(delay)
            delay = min(2 * delay, _LAST_POLL_S)

    async def _feedback_since(self, goal_id: str, index: int) -> list[Feedback]:
        label = f"FeedbackSince {goal_id}"
        try:
            texts = await self._call(
                label, lambda c: c.RobotGoals.FeedbackSince(GoalId=goal_id, Index=index).Feedback
            )
        except RobotError as exc:
            raise self._unknown(goal_id, exc) from exc
        return [self._decode(Feedback, text, label) for text in texts]

    def _unknown(self, goal_id: str, exc: RobotError) -> TransportLost:
        return TransportLost(
            f"{self._where} no longer knows goal {goal_id} ({exc.info.message}); its server "
            "restarted: what the robot did is not known"
        )

    async def cancel_goal(self, goal_id: str) -> CancelResponse:
        text = await self._call(
            f"CancelGoal {goal_id}", lambda c: c.RobotGoals.CancelGoal(GoalId=goal_id).Response
        )
        return self._decode(CancelResponse, text, "CancelGoal")

    # -------------------------------------------------------------------------- e-stop

    async def estop(self, level: StopLevel, reason: str, by: str) -> EstopState:
        text = await self._call(
            "Engage",
            lambda c: c.RobotEStop.Engage(Level=level.value, Reason=reason, By=by).State,
        )
        return self._decode(EstopState, text, "Engage")

    async def clear_estop(self, operator: str) -> EstopState:
        text = await self._call("Clear", lambda c: c.RobotEStop.Clear(Operator=operator).State)
        return self._decode(EstopState, text, "Clear")

    async def estop_state(self) -> EstopState:
        text = await self._call("State", lambda c: c.RobotEStop.State.get())
        return self._decode(EstopState, text, "State")


_DIAL_ATTEMPTS = 3


def _dial(host: str, port: int, abandoned: threading.Event, *, timeout_s: float) -> SilaClient:
    """A ``SilaClient`` for ``host:port``, built one at a time.

    ``sila2`` 0.14 compiles every feature's protobuf module afresh for each client, through
    ``sys.modules`` and not thread-safely: a client built while another compiles the same feature
    (``SiLAService`` is in every server) fails with ``KeyError('<Feature>_pb2')``. Robot
    transports therefore build clients one at a time, and build again after such a collision with
    a client built elsewhere in the process (an instrument's); the collision leaves nothing
    behind, so that is safe.
    """
    if not DIALLING.acquire(timeout=timeout_s):
        raise TimeoutError
    try:
        for attempt in range(1, _DIAL_ATTEMPTS + 1):
            try:
                client = SilaClient(host, port, insecure=True)
                break
            except KeyError:
                if attempt == _DIAL_ATTEMPTS:
                    raise
    finally:
        DIALLING.release()
    if abandoned.is_set():  # the caller gave up waiting: nobody will close it
        _close_quietly(client)
        raise TimeoutError
    return client


def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.close()


_END = object()
"""What a :class:`_Relay` hands over when its stream has ended."""


class _Relay:
    """A ``sila2`` subscription's items, moved to the event loop by a thread of its own.

    Reading a subscription blocks for as long as the goal runs; on the loop's default executor
    that would hold one of its few workers (shared with every other device's calls) per followed
    goal. Items, then :data:`_END` or the exception that ended the stream, arrive in order.
    """

    def __init__(self, subscription: Any) -> None:
        self._subscription = subscription
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[object] = asyncio.Queue()
        threading.Thread(target=self._run, name="kapex-sila-follow", daemon=True).start()

    def _run(self) -> None:
        while True:
            item: object
            try:
                item = next(self._subscription)
            except StopIteration:
                item = _END
            except Exception as exc:  # the stream broke: the follower translates it
                item = exc
            try:
                self._loop.call_soon_threadsafe(self._items.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody follows any more
                return
            if item is _END or isinstance(item, Exception):
                return

    async def next(self) -> object:
        return await self._items.get()

    def cancel(self) -> None:
        """Stop reading; the thread ends."""
        self._subscription.cancel()


def _responses_or_none(instance: Any) -> Any | None:
    try:
        return instance.get_responses()
    except CommandExecutionNotFinished:
        return None


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exception", None) if isinstance(exc, SilaConnectionError) else exc
    if isinstance(inner, grpc.RpcError):
        return f"gRPC {inner.code().name}: {inner.details()}"
    return f"{type(exc).__name__}: {exc}"
