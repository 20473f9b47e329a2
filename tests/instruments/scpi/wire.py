"""A small SCPI instrument on a real TCP socket, to exercise the driver's wire path (pyvisa-py).

It speaks ``\\n``-terminated SCPI as a LAN instrument's raw socket port (5025) does: a heating block
with a photometer, and a stateful error queue. It runs its own event loop in a thread, so the
driver under test can use any loop (the virtual one included). Lines are read as they arrive and
answered one at a time, so the server can tell when a client sends a command before the reply to
its last query went out (:attr:`WireInstrument.pipelined`), which a serialised driver never does.

Commands: ``*IDN?``; ``SOUR:TEMP <c>`` (-20..150 °C, else error -222); ``MEAS:TEMP?`` (moves half
way to the setpoint at each read: a first-order lag sampled per read); ``MEAS:ABS?``;
``MEAS:SLOW?`` (answers after 20 ms); ``OUTP OFF``; ``SYST:ERR?``. Anything else queues
``-113,"Undefined header"`` and, being unknown, gets no reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections import deque
from typing import Literal

HangUp = Literal["reset", "close"]


class WireInstrument:
    """The server; :meth:`start` it, point the driver at :attr:`address`, :meth:`stop` it."""

    def __init__(self) -> None:
        self.port = 0
        self.setpoint_c = 25.0
        self.temperature_c = 25.0
        self.output_on = True
        self.errors: deque[tuple[int, str]] = deque()
        self.received: list[str] = []
        self.pipelined = 0
        """Commands that arrived while an earlier one was still being answered."""
        self.hang_up: dict[str, HangUp] = {}
        """Command -> how the server drops the connection when it receives it (once)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        """The VISA resource string of this server."""
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    def start(self) -> WireInstrument:
        """Listen on a free port of 127.0.0.1; returns once it accepts connections."""
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(ready),))
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("the SCPI wire server did not start within 5 s")
        return self

    def stop(self) -> None:
        """Close every connection and the listening socket, and end the thread; idempotent."""
        if self._thread is None or not self._thread.is_alive():
            return
        assert self._loop is not None and self._stopping is not None
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(5)
        assert not self._thread.is_alive(), "the SCPI wire server did not stop"

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await self._stopping.wait()
            for writer in list(self._clients):
                writer.transport.abort()
        await asyncio.sleep(0)  # let the connection handlers see their transports closed

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        owed = 0  # queries received and not yet answered

        async def read_lines() -> None:
            nonlocal owed
            with contextlib.suppress(ConnectionError):
                while line := await reader.readline():
                    command = line.decode().strip()
                    if owed:
                        self.pipelined += 1
                    owed += command.endswith("?")
                    lines.put_nowait(command)
            lines.put_nowait(None)

        receiver = asyncio.create_task(read_lines())
        try:
            while (command := await lines.get()) is not None:
                self.received.append(command)
                how = self.hang_up.pop(command, None)
                if how is not None:
                    self._drop(writer, how)
                    return
                reply = await self._answer(command)
                if reply is not None:
                    writer.write(reply.encode() + b"\n")
                    await writer.drain()
                owed -= command.endswith("?")
        except ConnectionError:
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
            writer.close()
            self._clients.discard(writer)

    @staticmethod
    def _drop(writer: asyncio.StreamWriter, how: HangUp) -> None:
        """Hang up mid-command: ``reset`` as a crashed or rebooted instrument does (RST),
        ``close`` as one that shuts the socket in an orderly way (FIN)."""
        if how == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()

    async def _answer(self, command: str) -> str | None:
        header, _, argument = command.partition(" ")
        if command == "*IDN?":
            return "CFL-WIRE,HEATBLOCK-150,SN0001,1.0"
        if header == "SOUR:TEMP" and argument:
            try:
                value = float(argument)
            except ValueError:
                self.errors.append((-104, "Data type error"))
                return None
            if not -20.0 <= value <= 150.0:
                self.errors.append((-222, "Data out of range"))
            else:
                self.setpoint_c = value
            return None
        if command == "MEAS:TEMP?":
            self.temperature_c += (self.setpoint_c - self.temperature_c) / 2
            return f"{self.temperature_c:.2f}"
        if command == "MEAS:ABS?":
            return "0.4321"
        if command == "MEAS:SLOW?":
            await asyncio.sleep(0.02)
            return "1.0"
        if command == "OUTP OFF":
            self.output_on = False
            return None
        if command == "SYST:ERR?":
            code, text = self.errors.popleft() if self.errors else (0, "No error")
            return f'{code:+d},"{text}"'
        self.errors.append((-113, "Undefined header"))
        return None
