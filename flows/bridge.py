"""A thread with its own event loop, where Prefect's flow and task machinery runs.

The engine runs on the lab clock's event loop, which for simulated labs is *virtual*: when every
task waits on a timer, it jumps to the earliest one. Prefect's client talks HTTP with timeouts, and
on a virtual loop those timeouts would fire at once. So Prefect's subflows and tasks run here, on
an ordinary loop in a second thread, and the work they wrap is sent back to the lab loop:

    lab loop (engine, dispatcher, devices) ──► bridge loop (Prefect subflow / task run)
                                          ◄── the wrapped work, run on the lab loop

Awaiting the bridge from the lab loop is a plain future, not an executor job, so virtual time
keeps flowing for other experiments while Prefect records a state; with nothing else scheduled,
the lab loop blocks for real until the bridge answers. Context variables (Prefect's run
contexts) travel with each hop, so a step task's parent is its experiment subflow, whose parent
is the campaign flow.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Bridge"]

T = TypeVar("T")


class Bridge:
    """An event loop in a daemon thread; ``with Bridge() as bridge:`` starts and stops it."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="cfl-prefect-bridge", daemon=True)
        self._lab_loop: asyncio.AbstractEventLoop | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def __enter__(self) -> Bridge:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        async def _drain() -> None:
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(_drain(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop.close()

    def call(self, work: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``work`` on the bridge loop and wait for it; called from any other thread."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=timeout_s)

    async def there(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the bridge loop; called from the lab loop."""
        if self._lab_loop is None:
            self._lab_loop = asyncio.get_running_loop()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def back(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the lab loop; called from the bridge loop, inside a Prefect run."""
        assert self._lab_loop is not None, "there() first"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._lab_loop))
