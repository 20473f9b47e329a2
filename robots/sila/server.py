"""Serve a simulated KAPEX as a SiLA 2 server, so the robot is dispatched over the wire.

:class:`RobotServer` puts one :class:`~robots.sim.kinematic.KinematicSim` behind the features of
:mod:`robots.sila.features`; a client reaches it with ``transport: sila``
(:class:`robots.sila.transport.SilaTransport`) exactly as it would reach a real robot's server.
The simulator runs on a :class:`~cfl.wire.loop.DeviceLoop` shared with the lab's other
served devices (one clock, one bench), through a :class:`~robots.sila.host.RobotHost`, which also
converts times between the sped-up clock and the real seconds of the wire.

``cfl sim serve LAB`` serves a ``driver: kapex`` device on ``transport: sim`` this way: it calls
:func:`serve_device`, which it finds by name (``instruments`` does not import ``robots``).

Like :class:`~instruments.sila.server.DeviceServer`, servers listen without TLS and without SiLA
Server Discovery: they are for loopback and a trusted lab network. The lab file's ``faults:`` do
not act on a robot served this way (they act on the in-process link of ``transport: sim``); to see
a lost link over the wire, stop the server.
"""

from __future__ import annotations

import logging
import threading
import uuid
from types import TracebackType

from sila2.server import SilaServer

from cfl.errors import SpecError
from cfl.wire.loop import DeviceLoop
from robots.kapex.driver import KapexDriver
from robots.kapex.sim_transport import SimTransport
from robots.sila import features as f
from robots.sila.features import sila_feature
from robots.sila.host import RobotHost
from robots.sila.servicers import RobotEStopImpl, RobotGoalsImpl, RobotLeaseImpl
from robots.sim.kinematic import KinematicSim

__all__ = ["RobotServer", "serve_device"]

logger = logging.getLogger(__name__)

_VENDOR_URL = "https://kapex.com/cfl"


class RobotServer:
    """One simulated KAPEX served as a SiLA 2 server; see the module docstring.

    Args:
        robot: The simulator, built on ``loop``'s clock.
        name: The robot's device name (lab file); also the SiLA server name.
        loop: The running loop the simulator's coroutines run on.
    """

    features = tuple(feature.identifier for feature in f.FEATURES)
    """The SiLA 2 features it implements."""

    def __init__(self, robot: KinematicSim, *, name: str, loop: DeviceLoop) -> None:
        self.name = name
        self.host = RobotHost(robot, loop)
        self._uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"{_VENDOR_URL}/robots/{name}")
        self._lock = threading.Lock()
        self._server: SilaServer | None = None
        self._host_name = "127.0.0.1"
        self._port = 0

    @property
    def robot(self) -> KinematicSim:
        return self.host.robot

    @property
    def address(self) -> str:
        """``host:port`` the server listens on."""
        return f"{self._host_name}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    def _build(self) -> SilaServer:
        robot = self.host.robot
        server = SilaServer(
            server_name=self.name[:255],
            server_type="KapexSim",
            server_description=f"Simulated KAPEX {self.name} ({robot.serial}) over SiLA 2",
            server_version="0.1",
            server_vendor_url=_VENDOR_URL,
            server_uuid=self._uuid,
            max_grpc_workers=32,
            max_child_task_workers=32,
        )
        for feature, implementation in (
            (f.ROBOT_LEASE, RobotLeaseImpl),
            (f.ROBOT_ESTOP, RobotEStopImpl),
            (f.ROBOT_GOALS, RobotGoalsImpl),
        ):
            server.set_feature_implementation(
                sila_feature(feature), implementation(server, self.host)
            )
        return server

    def start(self, host: str, port: int) -> RobotServer:
        """Listen on ``host:port`` (plain gRPC, no discovery).

        Args:
            host: Address to bind, e.g. ``127.0.0.1``.
            port: A fixed port (``sila2`` does not say which port 0 would bind).

        Raises:
            SpecError: the port is 0 or cannot be bound.
        """
        if port == 0:
            raise SpecError(f"serve {self.name} on a fixed port, not 0; pick a free one")
        self._host_name, self._port = host, port
        server = self._build()
        try:
            server.start_insecure(host, port, enable_discovery=False)
        except RuntimeError as exc:  # grpc: "Failed to bind to address"
            raise SpecError(
                f"cannot serve {self.name} on {self.address}: {exc}. Is another server using the "
                "port? Stop it, or give the device another address in the lab file",
                field=f"lab.devices.{self.name}.address",
            ) from exc
        with self._lock:
            self._server = server
        logger.info("serving robot %s (%s) on %s", self.name, self.robot.serial, self.address)
        return self

    def stop(self) -> None:
        """Stop serving; calls in flight fail, and clients following goals lose the link."""
        with self._lock:
            server, self._server = self._server, None
        self.host.close()
        if server is not None:
            server.stop(grace_period=0)

    def report(self) -> str:
        """What it served, e.g. ``kapex-1: 24 goals over SiLA 2 (succeeded 24)``."""
        ended = ", ".join(f"{status.value} {n}" for status, n in sorted(self.host.ended.items()))
        return f"{self.name}: {self.host.accepted} goals over SiLA 2 ({ended or 'none ended'})"

    def __enter__(self) -> RobotServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_device(device: object, *, name: str, loop: DeviceLoop) -> RobotServer | None:
    """The robot server for a served lab's device, if it is a simulated KAPEX; else ``None``.

    ``cfl sim serve`` calls it for every device it serves. A ``driver: kapex`` device on
    ``transport: sim`` is served as the robot features over its simulator (the driver's
    :class:`~robots.kapex.sim_transport.SimTransport` builds it on the lab's clock and bench), with
    the served lab file's safety policy as the robot's own until a client sends its policy. Any
    other device (a KAPEX on another transport included) is left to the generic device server.
    """
    if not isinstance(device, KapexDriver) or device.options.transport != "sim":
        return None
    client = device.client
    transport = client.transport
    if not isinstance(transport, SimTransport):
        return None
    transport.robot.set_policy(client.policy)
    return RobotServer(transport.robot, name=name, loop=loop)
