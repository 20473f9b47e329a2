"""Runs a served device's commands for ``sila2``'s servicer threads, and translates its errors.

A SiLA 2 call arrives on a ``sila2`` thread. :class:`CommandRunner` submits the device coroutine to
the :class:`~cfl.wire.loop.DeviceLoop`, reports progress while it runs (observable
commands), and turns what the device raised into what the wire carries, once, here:

* a CFL error the command defines (``DeviceFault``, ``ReadingOutOfRange``, ``DeviceTimeout``,
  ``SafetyInterlock``) becomes that Defined Execution Error (:mod:`instruments.sila.codec`);
* ``DeviceDisconnected`` drops the connection (``on_disconnect``): the server goes away mid-call,
  as a device whose link failed does, and the client sees a broken RPC, not an error message;
* a command cancelled by ``Stop`` or by the server shutting down ends with ``DeviceFault``;
* anything else propagates, and ``sila2`` sends it as an Undefined Execution Error.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from queue import Queue
from typing import Any, TypeVar

from sila2.framework import DefinedExecutionError
from sila2.server import ObservableCommandInstance

from cfl.errors import CFLError, DeviceDisconnected, DeviceFault
from cfl.wire.fdl import FeatureDefinition
from cfl.wire.loop import DeviceLoop
from instruments.sila.codec import error_identifier, error_to_wire
from instruments.sila.features import sila_feature
from instruments.sila.progress import CommandTimer, EstimatesDuration, ProgressMeter, timed

__all__ = ["CommandRunner"]

T = TypeVar("T")

_TICK_S = 0.05
"""Wall seconds between progress updates of a running observable command."""


class CommandRunner:
    """Runs one device's commands on the device loop; see the module docstring.

    Args:
        device: The CFL device object.
        name: Its name, for messages.
        loop: Where its coroutines run.
        on_disconnect: Drops the server's connections; called when the device raises
            ``DeviceDisconnected``, before the call ends.
    """

    def __init__(
        self, device: object, *, name: str, loop: DeviceLoop, on_disconnect: Callable[[], None]
    ) -> None:
        self.device = device
        self.name = name
        self._loop = loop
        self._on_disconnect = on_disconnect
        self._lock = threading.Lock()
        self._running: set[concurrent.futures.Future[Any]] = set()
        self._status_queues: list[Queue[str]] = []

    # -- status -----------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``busy`` while a command runs, ``idle`` otherwise."""
        with self._lock:
            return "busy" if self._running else "idle"

    def watch_status(self, queue: Queue[str]) -> None:
        """Put each new status into ``queue`` (an observable property's producer queue)."""
        with self._lock:
            self._status_queues.append(queue)
        queue.put(self.status)

    def unwatch_status(self, queue: Queue[str]) -> None:
        with self._lock:
            if queue in self._status_queues:
                self._status_queues.remove(queue)

    def _track(self, future: concurrent.futures.Future[Any], *, add: bool) -> None:
        with self._lock:
            before = bool(self._running)
            if add:
                self._running.add(future)
            else:
                self._running.discard(future)
            after = bool(self._running)
            queues = list(self._status_queues) if before != after else []
        for queue in queues:
            queue.put("busy" if after else "idle")

    # -- commands ---------------------------------------------------------------------------

    def run(
        self,
        feature: FeatureDefinition,
        command: str,
        coro: Coroutine[Any, Any, T],
        *,
        cfl_command: str,
        arguments: Mapping[str, object],
        instance: ObservableCommandInstance | None,
    ) -> T:
        """Run ``coro``, the device's ``cfl_command``, for the SiLA command ``command``.

        Args:
            feature: The feature the command belongs to: its errors are the ones it may send.
            command: The SiLA command identifier, e.g. ``Measure``.
            coro: The device call.
            cfl_command: The CFL command name, e.g. ``measure``, for messages and estimates.
            arguments: The call's arguments, for :class:`EstimatesDuration` devices.
            instance: The observable command's instance, to report progress to; ``None`` for an
                unobservable command.
        """
        timer = CommandTimer()
        expected = (
            self.device.expected_duration_s(cfl_command, arguments)
            if isinstance(self.device, EstimatesDuration)
            else None
        )
        meter = ProgressMeter(self._loop.clock, timer, expected)
        if instance is not None:
            instance.begin_execution()
            instance.progress = 0.0  # type: ignore[misc]  # sila2 declares the setter apart
        future = self._loop.submit(timed(coro, timer))
        self._track(future, add=True)
        try:
            while True:
                done, _ = concurrent.futures.wait([future], timeout=_TICK_S)
                if done:
                    break
                if instance is not None:
                    self._report(instance, meter)
            return future.result()
        except concurrent.futures.CancelledError as exc:
            aborted = DeviceFault(
                f"{self.name}: {cfl_command} was aborted (a Stop command, or the server shut down)",
                device=self.name,
                command=cfl_command,
            )
            raise self._defined(feature, command, aborted) or aborted from exc
        except DeviceDisconnected:
            self._on_disconnect()
            raise
        except CFLError as exc:
            defined = self._defined(feature, command, exc)
            if defined is None:
                raise
            raise defined from exc
        finally:
            self._track(future, add=False)

    @staticmethod
    def _report(instance: ObservableCommandInstance, meter: ProgressMeter) -> None:
        estimate = meter.read()
        if estimate is None or estimate.fraction - (instance.progress or 0.0) < 0.005:
            return
        if estimate.remaining_s is not None:
            wall = meter.wall_seconds(estimate.remaining_s)
            if wall is not None:
                instance.estimated_remaining_time = timedelta(seconds=wall)
        instance.progress = estimate.fraction  # type: ignore[misc]  # (see above)

    @staticmethod
    def _defined(
        feature: FeatureDefinition, command: str, exc: CFLError
    ) -> DefinedExecutionError | None:
        """The Defined Execution Error ``command`` sends for ``exc``; ``None`` if it has none."""
        allowed = next(c.errors for c in feature.commands if c.identifier == command)
        identifier = error_identifier(exc, allowed)
        if identifier is None:
            return None
        node = sila_feature(feature).defined_execution_errors[identifier]
        return DefinedExecutionError(node, error_to_wire(exc))

    def stop_device(self, stop: Coroutine[Any, Any, None], feature: FeatureDefinition) -> None:
        """Run the device's ``stop()``, then abort what it still runs (the ``Stop`` command)."""
        try:
            self._loop.submit(stop).result()
        except CFLError as exc:
            defined = self._defined(feature, "Stop", exc)
            if defined is None:
                raise
            raise defined from exc
        finally:
            self.abort_all()

    def abort_all(self) -> None:
        """Cancel every command still running: the server stops, or the device was stopped."""
        with self._lock:
            running = list(self._running)
        for future in running:
            future.cancel()
