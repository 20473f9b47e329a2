"""One Prefect global concurrency limit per device: ``device:<name>``, one slot.

Every step task that drives a device holds its slot (:mod:`flows.campaign`), so two flow runs
never drive one instrument or robot at the same time, on whatever machines their workers run.
``cfl deploy`` creates the limits; a campaign flow creates any that are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

__all__ = [
    "LEASE_S",
    "DeviceLease",
    "LeaseRegistry",
    "device_slot",
    "ensure_device_limits",
    "limit_name",
]

LEASE_S = 60.0
"""Seconds a slot's lease lasts unless renewed (renewed every third of it): how long a device
stays blocked after the run holding it was killed, where the resuming run cannot release it (on
another machine, or a slot granted as the run died, before its lease was noted). Prefect's
minimum, so a killed run blocks a device for as short a time as Prefect allows."""


class LeaseRegistry:
    """Device slots held by this machine's campaign runs, one file per lease, in a folder.

    A run that is killed (SIGKILL, a lost machine) cannot release its slots; Prefect frees them
    only when the lease expires (:data:`LEASE_S`, at least a minute). The run that resumes the
    campaign on this machine releases them at once: :meth:`release_stale` frees every lease whose
    holder process is gone. Leases held on other machines expire as usual.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._host = socket.gethostname()

    def add(self, lease: UUID, device: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {"host": self._host, "pid": os.getpid(), "device": device}
        (self.folder / str(lease)).write_text(json.dumps(entry))

    def remove(self, lease: UUID) -> None:
        (self.folder / str(lease)).unlink(missing_ok=True)

    def stale(self) -> list[tuple[UUID, str]]:
        """Leases of dead processes on this host, with their devices."""
        found = []
        for path in sorted(self.folder.glob("*-*-*-*-*")) if self.folder.exists() else []:
            try:
                entry = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if entry.get("host") != self._host or _alive(int(entry.get("pid", 0))):
                continue
            found.append((UUID(path.name), str(entry.get("device", "?"))))
        return found

    def release_stale(self) -> list[str]:
        """Release the leases of dead runs; the devices freed."""
        freed = []
        with get_client(sync_client=True) as client:
            for lease, device in self.stale():
                with contextlib.suppress(httpx.HTTPError, ObjectNotFound):
                    client.release_concurrency_slots_with_lease(lease_id=lease)
                self.remove(lease)
                freed.append(device)
        return freed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) holds nothing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def limit_name(device: str) -> str:
    """The global concurrency limit guarding ``device``."""
    return f"device:{device}"


def ensure_device_limits(devices: Iterable[str]) -> list[str]:
    """Create ``device:<name>`` (limit 1) for each device that has none; the names created."""
    created = []
    with get_client(sync_client=True) as client:
        for device in devices:
            name = limit_name(device)
            try:
                client.read_global_concurrency_limit_by_name(name)
                continue
            except ObjectNotFound:
                pass
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )
            except ObjectAlreadyExists:  # another flow created it meanwhile
                continue
            created.append(name)
    return created


class DeviceLease:
    """A held slot of ``device:<name>``, renewed on the running loop until released.

    Taken and released by separate calls rather than one ``async with`` block, so a campaign run
    can hold a device's slot across the steps of one device reservation (several step tasks) and
    release it off a step's critical path (:class:`flows.campaign.DeviceSlots`). Use
    :func:`device_slot` for the one-block case.
    """

    def __init__(
        self, device: str, lease: UUID, client: PrefectClient, registry: LeaseRegistry | None
    ) -> None:
        self.device = device
        self.lease = lease
        self._client = client
        self._registry = registry
        self._renewer: asyncio.Task[None] | None = asyncio.create_task(self._renew())
        self._released = False

    @classmethod
    async def take(
        cls,
        device: str,
        *,
        client: PrefectClient,
        timeout_s: float | None = None,
        registry: LeaseRegistry | None = None,
    ) -> DeviceLease:
        """Wait for the one slot of ``device:<name>`` and hold it (one round trip if free).

        Args:
            device: The device's name in the lab file.
            client: An open client on the running loop (opening one costs a round trip).
            timeout_s: How long to wait for the slot; ``None``: as long as it takes.
            registry: Where to note the lease while it is held (for a run that resumes after a
                crash).

        Raises:
            LookupError: ``device:<name>`` does not exist (see :func:`ensure_device_limits`).
            TimeoutError: the slot stayed taken for ``timeout_s`` seconds.
            httpx.HTTPStatusError: the API refused.
        """
        name = limit_name(device)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                response = await client.increment_concurrency_slots_with_lease(
                    names=[name], slots=1, mode="concurrency", lease_duration=LEASE_S
                )
                break
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:
                    raise
                # poll at least twice a second: a device waiting on a slot is idle lab time
                wait = min(0.5, float(exc.response.headers.get("Retry-After", "0.5")))
                if deadline is not None and time.monotonic() + wait > deadline:
                    raise TimeoutError(f"{name} stayed taken for {timeout_s:g} s") from exc
                await asyncio.sleep(wait)
        data = response.json()
        if not data.get("limits"):
            raise LookupError(f"no concurrency limit {name!r}; `cfl deploy` creates it")
        lease = UUID(data["lease_id"])
        if registry is not None:
            registry.add(lease, device)
        return cls(device, lease, client, registry)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            with contextlib.suppress(httpx.HTTPError):
                await self._client.renew_concurrency_lease(self.lease, lease_duration=LEASE_S)

    async def release(self) -> None:
        """Give the slot back (once; later calls do nothing).

        Raises:
            httpx.HTTPError: the API did not take it back; the lease then runs out by itself
                within :data:`LEASE_S` and stays in the registry.
        """
        if self._released:
            return
        self._released = True
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        await asyncio.shield(self._client.release_concurrency_slots_with_lease(lease_id=self.lease))
        if self._registry is not None:
            self._registry.remove(self.lease)


@contextlib.asynccontextmanager
async def device_slot(
    device: str,
    *,
    timeout_s: float | None = None,
    client: PrefectClient | None = None,
    registry: LeaseRegistry | None = None,
) -> AsyncIterator[None]:
    """Hold the one slot of ``device:<name>`` for a block (a lease renewed while held).

    Like ``prefect.concurrency.asyncio.concurrency`` with ``strict=True``, at a fraction of its
    cost per use (no renewal thread per acquisition): the lease is renewed by a task on the
    running loop every third of :data:`LEASE_S`.

    Args:
        device: The device's name in the lab file.
        timeout_s: How long to wait for the slot; ``None``: as long as it takes.
        client: An open client on the running loop to use (opening one costs a round trip).
        registry: Where to note the lease while it is held (for a run that resumes after a crash).

    Raises:
        LookupError: ``device:<name>`` does not exist (see :func:`ensure_device_limits`).
        TimeoutError: the slot stayed taken for ``timeout_s`` seconds.
        httpx.HTTPStatusError: the API refused.
    """
    if client is None:
        async with (
            get_client() as opened,
            device_slot(device, timeout_s=timeout_s, client=opened, registry=registry),
        ):
            yield
        return
    lease = await DeviceLease.take(device, client=client, timeout_s=timeout_s, registry=registry)
    try:
        yield
    finally:
        await lease.release()
