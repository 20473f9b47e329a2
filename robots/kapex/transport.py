"""The seam between the KAPEX driver and a robot: what a transport must implement.

KAPEX has no public SDK yet, so the driver speaks to the robot through this small protocol and
nothing else. ``transport: sim`` (:class:`robots.kapex.sim_transport.SimTransport`) puts the
simulated robot behind it; ``transport: sila`` (:class:`robots.sila.transport.SilaTransport`)
reaches a robot served over SiLA 2 (``cfl sim serve`` serves the simulator so); the team that
connects the real robot writes one more class with these methods and names it in the lab file
(``transport: my_pkg.kapex_grpc:connect``). The messages are those of :mod:`robots.messages`;
``robots/kapex/README.md`` describes every call, its messages and the rules a transport must keep.

The rules in short:

* Calls that are refused raise :class:`~robots.contract.RobotError` with its code (a lease held by
  someone else, an e-stop cleared by a non-human). Goals are never refused by raising: a rejected
  goal is a :class:`~robots.messages.GoalResponse` with ``accepted=False``.
* A lost link raises :class:`TransportLost`; a call the robot does not answer in time raises
  :class:`TransportTimeout`. Nothing else may escape a transport: translate the library's own
  errors into these, once, where they arise.
* :meth:`KapexTransport.goal_events` yields a goal's feedback and then its one result, buffered
  from the moment the goal was accepted (no event may be lost between ``send_goal`` and the
  first read), and stops after the result.
* The e-stop calls work without a lease, and must reach the robot even while a goal streams: on a
  real robot they belong on their own connection (Spot's e-stop endpoint), not queued behind
  goal traffic.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cfl.devices import DeviceContext
from cfl.errors import SpecError
from robots.contract import StopLevel
from robots.messages import (
    CancelResponse,
    EstopState,
    GoalEvent,
    GoalRequest,
    GoalResponse,
    Lease,
    RobotInfo,
)
from robots.safety import SafetyPolicy

if TYPE_CHECKING:
    from robots.kapex.options import KapexOptions

__all__ = [
    "KapexTransport",
    "TransportError",
    "TransportFactory",
    "TransportLost",
    "TransportTimeout",
    "resolve_transport",
]


class TransportError(Exception):
    """The transport could not carry a call; what the robot did is not known."""


class TransportLost(TransportError):
    """The link to the robot dropped, or was never made."""


class TransportTimeout(TransportError):
    """The robot did not answer a call in time."""


@runtime_checkable
class KapexTransport(Protocol):
    """What the KAPEX driver needs from a connection to one robot; see the module docstring."""

    async def open(self) -> RobotInfo:
        """Connect (or reconnect) and report who the robot is."""
        ...

    async def close(self) -> None:
        """Disconnect; :meth:`open` may be called again later."""
        ...

    async def acquire_lease(self, owner: str, ttl_s: float) -> Lease:
        """Take the lease for ``owner`` (renews it if ``owner`` holds it already)."""
        ...

    async def renew_lease(self, lease_id: str) -> Lease:
        """Keep the lease fresh for another ``ttl_s`` (the keep-alive)."""
        ...

    async def release_lease(self, lease_id: str) -> None:
        """Give the lease up."""
        ...

    async def set_safety_policy(self, policy: SafetyPolicy) -> None:
        """Have the robot enforce ``policy`` during execution, if it can.

        A robot with its own safety configuration may ignore it: the driver checks every state
        sample against the same policy and e-stops a robot that breaks it.
        """
        ...

    async def send_goal(self, request: GoalRequest) -> GoalResponse:
        """Submit a goal; the answer is accepted or rejected, never an exception."""
        ...

    def goal_events(self, goal_id: str) -> AsyncIterator[GoalEvent]:
        """The accepted goal's feedback, then its one result."""
        ...

    async def cancel_goal(self, goal_id: str) -> CancelResponse:
        """Ask the robot to cancel a goal; its result still arrives on its event stream."""
        ...

    async def estop(self, level: StopLevel, reason: str, by: str) -> EstopState:
        """Engage the e-stop (no lease needed)."""
        ...

    async def clear_estop(self, operator: str) -> EstopState:
        """Release the e-stop; the robot refuses anyone but a named human (``human:<name>``)."""
        ...

    async def estop_state(self) -> EstopState: ...


TransportFactory = Callable[[str, "KapexOptions", DeviceContext], KapexTransport]
"""Builds a transport for device ``name`` from its options; called when the driver first
connects, never in ``from_config``."""

_BUILT_IN = {
    "sim": "robots.kapex.sim_transport:SimTransport.build",
    "sila": "robots.sila.transport:SilaTransport.build",
}
"""Transports CFL ships: the simulator in process, and a KAPEX served over SiLA 2 (the simulator
behind ``cfl sim serve``, or any server implementing :mod:`robots.sila.features`)."""


def resolve_transport(spec: str) -> TransportFactory:
    """The factory named by the lab file's ``transport`` option: built-in or ``module:callable``.

    Importing the module is all this does (no connection), so a lab file naming a transport that
    is not installed is refused when it is checked, not mid-run.

    Raises:
        SpecError: the name is neither built in (``sim``, ``sila``) nor an importable
            ``module:callable``.
    """
    path = _BUILT_IN.get(spec, spec)
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise SpecError(
            f"transport {spec!r} is neither 'sim' nor 'module:callable' nor 'sila'; name the "
            "factory that builds your transport, e.g. 'my_pkg.kapex_grpc:connect'"
        )
    try:
        target: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise SpecError(
            f"cannot import transport {spec!r} ({exc}); check the module path and the name"
        ) from exc
    if not callable(target):
        raise SpecError(f"transport {spec!r} is not callable; name a factory function or class")
    factory: TransportFactory = target
    return factory
