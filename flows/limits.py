"""One Prefect global concurrency limit per device: ``device:<name>``, one slot.

Every step task that drives a device holds its slot (:mod:`flows.campaign`), so two flow runs
never drive one instrument or robot at the same time, on whatever machines their workers run.
``cfl deploy`` creates the limits; a campaign flow creates any that are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

__all__ = ["LEASE_S", "device_slot", "ensure_device_limits", "limit_name"]

LEASE_S = 120.0
"""Seconds a slot's lease lasts unless renewed: how long a device stays blocked after the worker
holding it was killed."""


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


@contextlib.asynccontextmanager
async def device_slot(
    device: str, *, timeout_s: float | None = None, client: PrefectClient | None = None
) -> AsyncIterator[None]:
    """Hold the one slot of ``device:<name>`` (a lease renewed while held).

    Like ``prefect.concurrency.asyncio.concurrency`` with ``strict=True``, at a fraction of its
    cost per use (no renewal thread per acquisition): the lease is renewed by a task on the
    running loop every third of :data:`LEASE_S`.

    Args:
        device: The device's name in the lab file.
        timeout_s: How long to wait for the slot; ``None``: as long as it takes.
        client: An open client on the running loop to use (opening one costs a round trip).

    Raises:
        LookupError: ``device:<name>`` does not exist (see :func:`ensure_device_limits`).
        TimeoutError: the slot stayed taken for ``timeout_s`` seconds.
        httpx.HTTPStatusError: no such limit (404), or the API refused.
    """
    if client is None:
        async with (
            get_client() as opened,
            device_slot(device, timeout_s=timeout_s, client=opened),
        ):
            yield
        return
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

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            with contextlib.suppress(httpx.HTTPError):
                await client.renew_concurrency_lease(lease, lease_duration=LEASE_S)

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        await asyncio.shield(client.release_concurrency_slots_with_lease(lease_id=lease))
