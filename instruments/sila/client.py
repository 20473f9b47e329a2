"""A SiLA 2 server as seen from asyncio code, with its errors translated to CFL's, once.

``sila2.client.SilaClient`` is synchronous: every call here runs it on a worker thread
(``asyncio.to_thread``), so the orchestrator's loop never blocks on the network. The connection
is made on first use, not when the object is built (drivers do no I/O in ``from_config``).

Errors cross into CFL here and nowhere else, each with ``raise ... from exc``:

* a Defined Execution Error named like a CFL error -> that error, with its message and context
  (:func:`instruments.sila.codec.error_from_wire`); any other Defined Execution Error, an Undefined
  Execution Error or a SiLA validation / framework error -> :class:`~cfl.errors.DeviceFault`;
* the connection failing (gRPC ``UNAVAILABLE`` and other non-SiLA gRPC failures), or the server no
  longer knowing a running command (it restarted: ``InvalidCommandExecutionUUID``) ->
  :class:`~cfl.errors.DeviceDisconnected`, which is retryable; the next call reconnects;
* nothing listening at the address -> ``DeviceDisconnected`` naming the address and the fix.

An observable command is followed by polling: its progress (ExecutionInfo, kept current by
``sila2``'s subscription thread) goes to ``on_progress``, and asking for its result doubles as a
liveness probe, because ``sila2`` swallows a broken ExecutionInfo stream and would otherwise
leave the command "running" forever.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import grpc
from sila2.client import SilaClient
from sila2.framework import (
    CommandExecutionNotFinished,
    DefinedExecutionError,
    InvalidCommandExecutionUUID,
    SilaConnectionError,
    SilaError,
    UndefinedExecutionError,
)

from cfl.errors import CFLError, DeviceDisconnected, DeviceFault
from cfl.wire.address import DIALLING, split_address
from instruments.sila.codec import ERROR_CLASSES, error_from_wire

__all__ = ["ProgressCallback", "SilaConnection", "split_address"]

ProgressCallback = Callable[[float], None]
"""Receives an observable command's progress, from 0 to 1."""

_FIRST_POLL_S = 0.01


class SilaConnection:
    """Calls any command and reads any property of the SiLA 2 server at ``address``.

    Args:
        address: ``host:port`` of the server (plain gRPC, as ``cfl sim serve`` serves).
        device: The device's name in CFL; errors are raised as this device's.
        connect_timeout_s: Wall seconds to wait for the server when connecting.
        poll_s: Longest wall-second pause between polls of a running observable command.

    Raises:
        ValueError: ``address`` is not ``host:port``.
    """

    def __init__(
        self, address: str, *, device: str, connect_timeout_s: float = 5.0, poll_s: float = 0.25
    ) -> None:
        self.host, self.port = split_address(address)
        self.address = address
        self.device = device
        self._connect_timeout_s = connect_timeout_s
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._client: SilaClient | None = None

    # -- connection -------------------------------------------------------------------------

    def _connect_blocking(self) -> SilaClient:
        # Never hold the lock while dialling: _forget() takes it on the event loop's thread.
        with self._lock:
            if self._client is not None:
                return self._client
        with DIALLING:
            client = SilaClient(self.host, self.port, insecure=True)
        with self._lock:
            if self._client is None:
                self._client = client
                return client
            existing = self._client
        client.close()  # another call connected first
        return existing

    async def _connected(self, label: str) -> SilaClient:
        client = self._client
        if client is not None:
            return client
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._connect_blocking), self._connect_timeout_s
            )
        except (RuntimeError, ValueError) as exc:  # sila2: not a (usable) SiLA 2 server
            raise DeviceFault(
                f"{self.address} answered, but not as a SiLA 2 server CFL can use ({exc}); check "
                f"the address of {self.device} in the lab file",
                device=self.device,
                command=label,
            ) from exc
        except (SilaConnectionError, grpc.RpcError, TimeoutError, OSError) as exc:
            if isinstance(exc, TimeoutError):
                reason = f"no answer within {self._connect_timeout_s:g} s"
            elif _unavailable(exc):
                reason = "nothing answers (connection refused)"
            else:
                reason = _describe(exc)
            raise DeviceDisconnected(
                f"cannot reach the SiLA 2 server of {self.device} at {self.address}: {reason}. "
                "Start it (for a simulated lab: cfl sim serve LAB) or fix the device's address "
                "in the lab file",
                device=self.device,
                command=label,
            ) from exc

    def _forget(self) -> SilaClient | None:
        """Drop the client after a connection failure, so the next call dials afresh.

        A gRPC channel that lost its server retries with a growing back-off; a new one connects
        as soon as the server is back. The old channel is left to close when no call uses it.
        """
        with self._lock:
            client, self._client = self._client, None
        return client

    async def close(self) -> None:
        """Close the connection, if one was made."""
        client = self._forget()
        if client is not None:
            await asyncio.to_thread(client.close)

    # -- calls ------------------------------------------------------------------------------

    async def _target(self, feature: str, member: str, label: str) -> Any:
        """``client.<feature>.<member>`` of the connected client."""
        client = await self._connected(label)
        found = getattr(client, feature, None)
        target = getattr(found, member, None) if found is not None else None
        if target is None:
            implemented = await self._blocking(label, client.SiLAService.ImplementedFeatures.get)
            raise DeviceFault(
                f"the SiLA 2 server of {self.device} at {self.address} has no {feature}.{member} "
                f"(it implements {sorted(implemented)}); serve the right device at this address "
                "or fix the device's capabilities in the lab file",
                device=self.device,
                command=label,
            )
        return target

    async def _blocking(
        self, label: str, call: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """``call(*args, **kwargs)`` on a worker thread, its errors translated."""
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except (SilaError, SilaConnectionError, grpc.RpcError) as exc:
            raise self._translate(exc, label) from exc
        except (TypeError, ValueError) as exc:  # sila2 could not encode the parameters
            raise DeviceFault(
                f"cannot send {label} to {self.device} at {self.address}: {exc}",
                device=self.device,
                command=label,
            ) from exc

    async def get(self, feature: str, prop: str) -> Any:
        """The value of property ``prop`` (the current one, for an observable property)."""
        label = f"{feature}.{prop}"
        target = await self._target(feature, prop, label)
        return await self._blocking(label, target.get)

    async def call(
        self, feature: str, command: str, /, *, cfl_command: str | None = None, **parameters: Any
    ) -> Any:
        """Run unobservable ``command`` with ``parameters`` (SiLA identifiers); its responses.

        Args:
            cfl_command: The CFL command this is (``stop``), for errors; else ``command``.
        """
        label = cfl_command or command
        target = await self._target(feature, command, label)
        return await self._blocking(label, target, **parameters)

    async def run(
        self,
        feature: str,
        command: str,
        /,
        *,
        cfl_command: str | None = None,
        on_progress: ProgressCallback | None = None,
        **parameters: Any,
    ) -> Any:
        """Run observable ``command`` to its end; its responses.

        Cancelling the awaiting task stops following the command; the server's command is not
        cancelled (SiLA 2 has no generic cancel): stop the device for that.

        Args:
            cfl_command: The CFL command this is (``measure``), for errors; else ``command``.
            on_progress: Called with each new progress value, and with 1.0 at the end.
        """
        label = cfl_command or command
        target = await self._target(feature, command, label)
        starting = asyncio.ensure_future(self._blocking(label, target, **parameters))
        try:
            instance = await asyncio.shield(starting)
        except asyncio.CancelledError:
            # The command may start anyway: stop following it once it has, or sila2's
            # (non-daemon) ExecutionInfo thread follows a hung command for ever.
            starting.add_done_callback(_unsubscribe)
            raise
        last: float | None = None
        delay = _FIRST_POLL_S
        try:
            while True:
                progress = instance.progress
                if on_progress is not None and progress is not None and progress != last:
                    last = float(progress)
                    on_progress(last)
                try:
                    responses = await self._blocking(label, instance.get_responses)
                    break
                except _StillRunning:
                    pass
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, self._poll_s)
        finally:
            instance.cancel_execution_info_subscription()
        if on_progress is not None and last != 1.0:
            on_progress(1.0)
        return responses

    # -- errors -----------------------------------------------------------------------------

    def _translate(self, exc: BaseException, label: str) -> Exception:
        """The CFL error for a ``sila2`` or gRPC error; see the module docstring."""
        device, where = self.device, f"{self.device} at {self.address}"
        if isinstance(exc, CommandExecutionNotFinished):
            return _StillRunning()
        if isinstance(exc, DefinedExecutionError):
            if exc.identifier in ERROR_CLASSES:
                return error_from_wire(exc.identifier, exc.message, device=device, command=label)
            return DeviceFault(
                f"{where} failed in {label}: {exc.identifier}: {exc.message}",
                device=device,
                command=label,
            )
        if isinstance(exc, InvalidCommandExecutionUUID):
            self._forget()
            return DeviceDisconnected(
                f"{where} no longer knows the {label} it was running: the server restarted "
                "mid-command (its connection dropped); the command's outcome is unknown",
                device=device,
                command=label,
            )
        if isinstance(exc, UndefinedExecutionError):
            return DeviceFault(
                f"{where} failed in {label}: {exc.message}", device=device, command=label
            )
        if isinstance(exc, SilaError):  # validation or framework error: a bad call
            return DeviceFault(
                f"{where} refused {label}: {type(exc).__name__}: {exc}",
                device=device,
                command=label,
            )
        self._forget()
        return DeviceDisconnected(
            f"lost the connection to {where} during {label} ({_describe(exc)}); the command's "
            "outcome is unknown",
            device=device,
            command=label,
        )


def _unsubscribe(started: asyncio.Future[Any]) -> None:
    if not started.cancelled() and started.exception() is None:
        started.result().cancel_execution_info_subscription()


class _StillRunning(CFLError):
    """Internal: the observable command has not finished yet (never leaves this module)."""


def _rpc_error(exc: BaseException) -> grpc.RpcError | None:
    inner = getattr(exc, "exception", None) if isinstance(exc, SilaConnectionError) else exc
    return inner if isinstance(inner, grpc.RpcError) else None


def _unavailable(exc: BaseException) -> bool:
    rpc = _rpc_error(exc)
    return rpc is not None and rpc.code() == grpc.StatusCode.UNAVAILABLE


def _describe(exc: BaseException) -> str:
    rpc = _rpc_error(exc)
    if rpc is not None:
        return f"gRPC {rpc.code().name}: {rpc.details()}"
    return f"{type(exc).__name__}: {exc}"
