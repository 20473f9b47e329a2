"""Holding the robot's lease: acquire on first use, keep it alive while in use, give it up after.

Spot's ``LeaseKeepAlive``, on the lab clock. The keep-alive is a task that renews the lease every
third of its ``ttl_s``; it starts when a goal first needs the lease and ends when the driver
closes, or by itself once no goal has run for ``idle_release_s``, releasing the lease so the other
teams that share the robot can use it (the next goal takes it again). Ending by itself matters on
the virtual clock too: a task that sleeps forever would keep a stalled simulation's loop turning.

If a renewal is refused (the lease went stale, or someone else holds it now) or the link drops,
the keeper forgets the lease; the robot has already stopped any goal (a stale lease stops motion)
and the next goal acquires afresh, or is refused ``lease_held``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from cfl.clock import LabClock
from robots.contract import RobotError
from robots.kapex.transport import KapexTransport, TransportError
from robots.messages import Lease

__all__ = ["LeaseKeeper"]

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """The lease of one driver; see the module docstring.

    Args:
        transport: Returns the open transport.
        owner: Who the lease is held for.
        ttl_s: Lease lifetime without renewal.
        idle_release_s: Idle time after which the lease is given up.
        clock: The lab clock.
    """

    def __init__(
        self,
        transport: Callable[[], KapexTransport],
        *,
        owner: str,
        ttl_s: float,
        idle_release_s: float,
        clock: LabClock,
    ) -> None:
        self._transport = transport
        self.owner = owner
        self._ttl_s = ttl_s
        self._idle_s = idle_release_s
        self._clock = clock
        self.lease: Lease | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_use = 0
        self._last_used = 0.0

    @property
    def keeping_alive(self) -> bool:
        """Whether the keep-alive task is running."""
        return self._task is not None and not self._task.done()

    async def acquire(self) -> Lease:
        """The lease, taken now if not held; starts the keep-alive.

        Raises:
            RobotError: ``lease_held`` while someone else holds it.
            TransportError: the link is down.
        """
        if self.lease is None:
            self.lease = await self._transport().acquire_lease(self.owner, self._ttl_s)
        self._last_used = self._clock.now()
        if not self.keeping_alive:
            self._task = asyncio.get_running_loop().create_task(self._keep_alive())
        return self.lease

    def begin_use(self) -> None:
        """A goal started: the keeper does not give the lease up under it."""
        self._in_use += 1

    def end_use(self) -> None:
        """A goal ended."""
        self._in_use -= 1
        self._last_used = self._clock.now()

    async def release(self) -> None:
        """Stop the keep-alive and give the lease up (best effort: the robot may be gone)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        lease, self.lease = self.lease, None
        if lease is not None:
            with contextlib.suppress(RobotError, TransportError):
                await self._transport().release_lease(lease.lease_id)

    async def _keep_alive(self) -> None:
        while self.lease is not None:
            await self._clock.sleep(self._ttl_s / 3)
            lease = self.lease
            if lease is None:
                return
            idle = self._clock.now() - self._last_used
            if self._in_use == 0 and idle >= self._idle_s:
                self.lease = None
                with contextlib.suppress(RobotError, TransportError):
                    await self._transport().release_lease(lease.lease_id)
                return
            try:
                self.lease = await self._transport().renew_lease(lease.lease_id)
            except (RobotError, TransportError) as exc:
                logger.warning("lease %s of %s lost: %s", lease.lease_id, self.owner, exc)
                self.lease = None
                return
