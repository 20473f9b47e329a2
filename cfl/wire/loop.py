"""One asyncio event loop in a background thread, where served devices' coroutines run.

CFL devices are coroutines on a lab clock; ``sila2`` serves each call on a thread of its own. The
server hands each call's coroutine to this loop (``asyncio.run_coroutine_threadsafe``) and waits
on the returned future, so every device of a served lab shares one loop, one clock and one
simulated bench, exactly as they would inside a campaign. The loop runs on the wall clock; a
simulated lab is sped up with ``LabClock(speed=...)`` instead of virtual time, because gRPC
threads and real sockets take real time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from cfl.clock import LabClock

__all__ = ["DeviceLoop"]

T = TypeVar("T")


class DeviceLoop:
    """A running event loop that ``clock`` is anchored to; use as a context manager or start/stop.

    Args:
        clock: The lab clock the devices were built with; it is bound to this loop.
    """

    def __init__(self, clock: LabClock) -> None:
        self.clock = clock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cfl-sila-devices", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> DeviceLoop:
        """Start the loop thread and anchor the clock to it."""
        self.clock.bind(self._loop)
        self._thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; cancelling the returned future cancels the coroutine."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def stop(self) -> None:
        """Cancel whatever still runs, stop the loop and join its thread."""
        if not self._thread.is_alive():
            return

        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> DeviceLoop:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
