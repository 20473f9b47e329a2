"""One VISA session to one instrument: lazy, one transaction at a time, errors translated here.

This is the only module that calls PyVISA, and the boundary where its errors become CFL's:

* ``VisaIOError`` VI_ERROR_TMO becomes :class:`~cfl.errors.DeviceTimeout`;
* a refused, reset or lost connection (VISA's connection codes, or the ``OSError`` pyvisa-py lets
  through from its socket) becomes :class:`~cfl.errors.DeviceDisconnected`, naming the address;
* any other VISA error, an undecodable reply or entries in the error queue become
  :class:`~cfl.errors.DeviceFault` (:class:`~instruments.scpi.replies.ScpiError` for the queue).

A transaction is one command or query followed by reading the error queue until it reports no
error, so a fault is blamed on the command that caused it and the queue is empty for the next one.
PyVISA blocks, so a transaction runs in a worker thread (``asyncio.to_thread``) holding a
``threading.Lock``. The lock is taken by the thread, not by the coroutine, on purpose: when a
step's deadline cancels the awaiting coroutine, the thread keeps talking to the instrument, and
the next transaction must still wait for it, or two conversations would interleave on one wire.

After a timeout or a lost connection the resource is closed; the next transaction opens it afresh
and first empties the error queue of entries left from before (logged, not raised: no command of
ours caused them). A late reply to a timed-out query therefore never answers the next query.

pyvisa-py 0.8.1 caveat: a TCP socket the instrument closes in an orderly way (FIN) is not reported
as such; reads find no data until the timeout, so that case surfaces as a DeviceTimeout, and the
reconnection on the next command then tells whether the instrument is gone (connection refused).
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pyvisa
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError
from pyvisa.resources import MessageBasedResource

from cfl.errors import DeviceDisconnected, DeviceError, DeviceFault, DeviceTimeout
from instruments.scpi.options import ScpiOptions
from instruments.scpi.replies import ScpiError, parse_error_entry

__all__ = ["ScpiSession"]

_log = logging.getLogger(__name__)

MAX_QUEUE_READS = 32
"""Error-queue reads per transaction; SCPI queues hold at least 2 and rarely more than 30."""

_MANAGERS = threading.Lock()

_FIX = (
    "check that the instrument is on, connected and in remote mode, and that the device's "
    "address in the lab file is right (for TCPIP: the host answers and the port is its SCPI port)"
)

_CONNECTION_CODES = frozenset(
    {
        StatusCode.error_connection_lost,
        StatusCode.error_io,
        StatusCode.error_resource_not_found,
        StatusCode.error_invalid_object,
        StatusCode.error_resource_busy,
        StatusCode.error_resource_locked,
    }
)


class ScpiSession:
    """A lazily opened, serialised VISA session; see the module docstring.

    Args:
        device: The lab device name, for messages.
        address: The VISA resource string.
        options: The driver's validated options (backend, terminations, timeout, error query).
    """

    def __init__(self, device: str, address: str, options: ScpiOptions) -> None:
        self.device = device
        self.address = address
        self._options = options
        self._lock = threading.Lock()
        self._resource: MessageBasedResource | None = None

    async def write(self, command: str) -> None:
        """Send ``command`` and check the error queue.

        Raises:
            DeviceTimeout, DeviceDisconnected, DeviceFault: see the module docstring.
        """
        await asyncio.to_thread(self._transact, command, False)

    async def query(self, command: str) -> str:
        """Send ``command``, read its reply (terminator stripped) and check the error queue.

        Raises:
            DeviceTimeout, DeviceDisconnected, DeviceFault: see the module docstring.
        """
        reply = await asyncio.to_thread(self._transact, command, True)
        assert reply is not None
        return reply

    async def close(self) -> None:
        """Close the VISA resource, after any transaction in progress; a later command reopens."""
        await asyncio.to_thread(self._close_locked)

    # --- worker-thread side -------------------------------------------------------------------

    def _transact(self, command: str, expect_reply: bool) -> str | None:
        with self._lock:
            resource = self._open()
            try:
                if expect_reply:
                    reply: str | None = resource.query(command)
                else:
                    resource.write(command)
                    reply = None
            except (VisaIOError, OSError, UnicodeDecodeError) as exc:
                raise self._translated(exc, command) from exc
            self._check_error_queue(resource, command)
            return reply

    def _open(self) -> MessageBasedResource:
        """The open resource, opening it (and emptying stale errors) if needed."""
        if self._resource is not None:
            return self._resource
        o = self._options
        try:
            with _MANAGERS:  # PyVISA's library registry is not thread-safe
                manager = pyvisa.ResourceManager(o.backend)
        except (ValueError, OSError) as exc:
            raise DeviceFault(
                f"{self.device}: cannot load the VISA backend {o.backend!r} ({exc}); install it "
                "(pyvisa-py for '@py', a vendor VISA for '@ivi') or fix options.backend",
                device=self.device,
                command="open",
            ) from exc
        try:
            resource = manager.open_resource(
                self.address,
                read_termination=o.read_termination,
                write_termination=o.write_termination,
                timeout=o.timeout_ms,
                open_timeout=o.timeout_ms,
            )
        # pyvisa-py raises a bare Exception("could not connect: ...") when a TCP connect times
        # out, so nothing narrower catches every way an open fails.
        except Exception as exc:
            raise DeviceDisconnected(
                f"{self.device}: cannot open {self.address} ({exc}); {_FIX}",
                device=self.device,
                command="open",
            ) from exc
        if not isinstance(resource, MessageBasedResource):
            resource.close()
            raise DeviceFault(
                f"{self.device}: {self.address} is a {type(resource).__name__}, which does not "
                "speak SCPI messages; use an INSTR or SOCKET resource string",
                device=self.device,
                command="open",
            )
        self._resource = resource
        for code, text in self._drain(resource, "opening the session"):
            _log.warning(
                "%s: error left in the queue from before this session: %d %s",
                self.device,
                code,
                text,
            )
        return resource

    def _check_error_queue(self, resource: MessageBasedResource, command: str) -> None:
        errors = self._drain(resource, repr(command))
        if not errors:
            return
        listed = "; ".join(f"{code} {text!r}" for code, text in errors)
        raise ScpiError(
            f"{self.device}: the instrument reported {listed} after {command!r}; check the "
            "command and its value against the instrument's manual and the lab file",
            device=self.device,
            command=command,
            errors=tuple(errors),
        )

    def _drain(self, resource: MessageBasedResource, after: str) -> list[tuple[int, str]]:
        """Pop error-queue entries until it reports no error; the entries, oldest first.

        Args:
            resource: The open resource.
            after: What ran before, for messages (``'MEAS:ABS?'``, ``opening the session``).
        """
        query = self._options.error_query
        if query is None:
            return []
        errors: list[tuple[int, str]] = []
        for _ in range(MAX_QUEUE_READS):
            try:
                reply = resource.query(query)
            except (VisaIOError, OSError, UnicodeDecodeError) as exc:
                raise self._translated(exc, query) from exc
            try:
                code, text = parse_error_entry(reply)
            except ValueError as exc:
                raise DeviceFault(
                    f"{self.device}: {exc}, in reply to {query!r} after {after}; set "
                    "options.error_query to the instrument's error query, or null if it has none",
                    device=self.device,
                    command=query,
                ) from exc
            if code == 0:
                return errors
            errors.append((code, text))
        raise DeviceFault(
            f"{self.device}: the error queue still held entries after {MAX_QUEUE_READS} reads of "
            f"{query!r} after {after} (first: {errors[0][0]} {errors[0][1]!r}); the instrument "
            "keeps reporting a fault: clear it at the instrument, or check options.error_query",
            device=self.device,
            command=query,
        )

    def _translated(self, exc: Exception, command: str) -> DeviceError:
        """The CFL error for a PyVISA or socket error.

        The resource is dropped first: after a failed exchange its buffers and queue are suspect,
        and reopening (which empties the queue) is the one reliable way back to a known state.
        """
        self._close_quietly()
        if isinstance(exc, UnicodeDecodeError):
            return DeviceFault(
                f"{self.device}: the reply to {command!r} is not text ({exc}); check "
                "read_termination and that the command returns text, not a binary block",
                device=self.device,
                command=command,
            )
        if isinstance(exc, VisaIOError) and exc.error_code == StatusCode.error_timeout:
            hint = (
                "set options.error_query to the instrument's error query, or null if it has none"
                if command == self._options.error_query
                else "check that the instrument knows this query (its manual)"
            )
            return DeviceTimeout(
                f"{self.device}: no reply to {command!r} from {self.address} within "
                f"{self._options.timeout_ms} ms; {hint}, that read_termination matches it, or "
                "raise options.timeout_ms if it is slow",
                device=self.device,
                command=command,
                timeout_s=self._options.timeout_ms / 1000,
            )
        if isinstance(exc, OSError) or (
            isinstance(exc, VisaIOError) and exc.error_code in _CONNECTION_CODES
        ):
            return DeviceDisconnected(
                f"{self.device}: the connection to {self.address} failed during {command!r} "
                f"({exc}); {_FIX}",
                device=self.device,
                command=command,
            )
        assert isinstance(exc, VisaIOError)
        return DeviceFault(
            f"{self.device}: VISA error during {command!r} on {self.address}: {exc}",
            device=self.device,
            command=command,
        )

    def _close_locked(self) -> None:
        with self._lock:
            self._close_quietly()

    def _close_quietly(self) -> None:
        """Drop the resource; closing a broken connection may fail, and that is no news."""
        resource, self._resource = self._resource, None
        if resource is None:
            return
        try:
            resource.close()
        except (VisaIOError, OSError) as exc:
            _log.debug("%s: closing %s failed: %s", self.device, self.address, exc)
