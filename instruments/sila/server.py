"""Serve any built CFL device as a SiLA 2 server.

:class:`DeviceServer` looks at what the device is (``isinstance`` on the protocols of
:mod:`cfl.devices`) and implements exactly those features of :mod:`instruments.sila.features`,
plus ``DeviceInfo``. The device's coroutines run on a shared
:class:`~cfl.wire.loop.DeviceLoop`; ``sila2`` serves calls on its own threads.

Faults injected into a simulator (:mod:`cfl.faults`) reach the client as they would from a real
device: ``timeout`` as the ``DeviceTimeout`` error, ``out_of_range`` as a reading with absurd
values (the orchestrator refuses it, not the server), ``hang`` as a call that never completes.
``disconnect`` drops the connection: the server stops its gRPC server at once, which breaks every
call in flight (the client sees gRPC ``UNAVAILABLE``, or loses track of the command), and comes
back on the same port, with the same server UUID and the same device state, after
``reconnect_after_s`` wall seconds, as a device whose network link failed and recovered would.

Servers listen without TLS (``start_insecure``) and without SiLA Server Discovery, which would
announce them by multicast on every interface: they are for loopback and a trusted lab network.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from types import TracebackType

from sila2.server import SilaServer

from cfl.errors import SpecError
from cfl.wire.loop import DeviceLoop
from instruments.sila.features import CAPABILITIES, DEVICE_INFO, Capability, sila_feature
from instruments.sila.runner import CommandRunner
from instruments.sila.servicers import IMPLEMENTATIONS, DeviceInfoImpl

__all__ = ["DeviceServer", "capabilities_of"]

logger = logging.getLogger(__name__)

_VENDOR_URL = "https://kapex.com/cfl"


def capabilities_of(device: object) -> tuple[Capability, ...]:
    """The capabilities ``device`` implements, in :data:`CAPABILITIES` order."""
    return tuple(c for c in CAPABILITIES if isinstance(device, c.protocol))


def _server_type(device: object) -> str:
    """SiLA 2 wants ``[A-Z][a-zA-Z0-9]*``: the device's class name, cleaned."""
    cleaned = "".join(ch for ch in type(device).__name__ if ch.isalnum())
    return cleaned if cleaned[:1].isupper() else f"Cfl{cleaned}"


class DeviceServer:
    """One CFL device served as a SiLA 2 server; see the module docstring.

    Args:
        device: Any built CFL device object.
        name: The device's name (lab file); also the SiLA server name.
        loop: The running loop the device's coroutines run on (its clock is the device's).
        reconnect_after_s: Wall seconds a dropped connection stays down.

    Raises:
        SpecError: the device implements none of CFL's capabilities.
    """

    def __init__(
        self, device: object, *, name: str, loop: DeviceLoop, reconnect_after_s: float = 0.5
    ) -> None:
        self.capabilities = capabilities_of(device)
        if not self.capabilities:
            raise SpecError(
                f"device {name!r} ({type(device).__name__}) implements none of CFL's capabilities "
                f"({', '.join(c.protocol.__name__ for c in CAPABILITIES)}); nothing to serve"
            )
        self.device = device
        self.name = name
        self.runner = CommandRunner(
            device, name=name, loop=loop, on_disconnect=self.drop_connection
        )
        self._uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"{_VENDOR_URL}/{name}")
        self._reconnect_after_s = reconnect_after_s
        self._lock = threading.Lock()
        self._server: SilaServer | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._stopped = False
        self._reconnecting: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port`` the server listens on."""
        return f"{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    def _build(self) -> SilaServer:
        server = SilaServer(
            server_name=self.name[:255],
            server_type=_server_type(self.device),
            server_description=f"CFL device {self.name} ({type(self.device).__name__}) over SiLA 2",
            server_version="0.1",
            server_vendor_url=_VENDOR_URL,
            server_uuid=self._uuid,
            max_grpc_workers=32,
            max_child_task_workers=32,
        )
        names = [c.protocol.__name__ for c in self.capabilities]
        server.set_feature_implementation(
            sila_feature(DEVICE_INFO), DeviceInfoImpl(server, self.runner, names)
        )
        for cap in self.capabilities:
            server.set_feature_implementation(
                sila_feature(cap.feature), IMPLEMENTATIONS[cap.name](server, self.runner)
            )
        return server

    def _listen(self) -> SilaServer:
        server = self._build()
        try:
            server.start_insecure(self._host, self._port, enable_discovery=False)
        except RuntimeError as exc:  # grpc: "Failed to bind to address"
            raise SpecError(
                f"cannot serve {self.name} on {self.address}: {exc}. Is another server using the "
                "port? Stop it, or give the device another address in the lab file",
                field=f"lab.devices.{self.name}.address",
            ) from exc
        return server

    def start(self, host: str, port: int) -> DeviceServer:
        """Listen on ``host:port`` (plain gRPC, no discovery).

        Args:
            host: Address to bind, e.g. ``127.0.0.1``.
            port: A fixed port: ``sila2`` does not say which port 0 would bind, and a device
                that reconnects must come back where its clients look for it.

        Raises:
            SpecError: the port is 0 or cannot be bound.
        """
        if port == 0:
            raise SpecError(f"serve {self.name} on a fixed port, not 0; pick a free one")
        self._host, self._port = host, port
        with self._lock:
            self._server = self._listen()
        logger.info("serving %s (%s) on %s", self.name, type(self.device).__name__, self.address)
        return self

    def drop_connection(self) -> None:
        """Break every call in flight and stop answering for ``reconnect_after_s`` seconds.

        Blocks until the gRPC server has stopped, so a caller on a ``sila2`` thread that raises
        afterwards can no longer reach its client: the client sees the connection drop.
        """
        with self._lock:  # held until the thread that brings the server back has started
            server = self._server
            if server is None or self._stopped or self._reconnecting is not None:
                return
            self._server = None
            logger.warning(
                "%s: connection dropped (the device reported a disconnect); back on %s in %g s",
                self.name,
                self.address,
                self._reconnect_after_s,
            )
            server.grpc_server.stop(None).wait()
            self._reconnecting = threading.Thread(
                target=self._reconnect, args=(server,), name=f"sila-reconnect-{self.name}"
            )
            self._reconnecting.start()

    def _reconnect(self, old: SilaServer) -> None:
        old.stop()  # grpc is down already; this ends the servicers and their threads
        time.sleep(self._reconnect_after_s)
        with self._lock:
            try:
                if not self._stopped:
                    self._server = self._listen()
                    logger.warning("%s: serving again on %s", self.name, self.address)
            except SpecError:
                logger.exception("%s could not come back on %s", self.name, self.address)
            finally:
                self._reconnecting = None

    def stop(self) -> None:
        """Stop serving; commands still running on the device are aborted."""
        with self._lock:
            self._stopped = True
            reconnecting, server, self._server = self._reconnecting, self._server, None
        if reconnecting is not None:
            reconnecting.join()
        if server is not None:
            server.stop(grace_period=0)

    def __enter__(self) -> DeviceServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
