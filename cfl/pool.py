"""Device pools: one per role, handing out free devices first come, first served."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

__all__ = ["DevicePool"]


class DevicePool:
    """Free devices by role. ``acquire`` waits for one; ``release`` gives it back.

    A device is held by one experiment at a time, so two steps never drive one device at once.
    Waiters are served in arrival order, so no experiment starves.
    """

    def __init__(self, roles: Mapping[str, Sequence[str]]) -> None:
        self._role_of = {device: role for role, devices in roles.items() for device in devices}
        self._free: dict[str, asyncio.Queue[str]] = {}
        for role, devices in roles.items():
            queue: asyncio.Queue[str] = asyncio.Queue()
            for device in devices:
                queue.put_nowait(device)
            self._free[role] = queue
        self._held: set[str] = set()

    @property
    def size(self) -> int:
        """Number of devices in all pools."""
        return len(self._role_of)

    @property
    def held(self) -> frozenset[str]:
        """Devices currently reserved by an experiment."""
        return frozenset(self._held)

    async def acquire(self, role: str) -> str:
        """Wait for a free device of ``role`` and reserve it."""
        device = await self._free[role].get()
        self._held.add(device)
        return device

    def release(self, device: str) -> None:
        """Give ``device`` back to its pool."""
        if device not in self._held:
            raise RuntimeError(f"device {device!r} released but not held")
        self._held.discard(device)
        self._free[self._role_of[device]].put_nowait(device)
