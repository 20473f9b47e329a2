"""Fault injection for simulated devices, declared in the lab file or by a test.

A simulator asks its injector before each command (:meth:`FaultInjector.before`) and after each
reading (:meth:`FaultInjector.corrupt`); the injector decides from the device's fault list::

    devices:
      hplc-1:
        driver: sim-hplc
        faults:
          - {kind: hang, command: measure, after: 2}            # the 3rd measurement never returns
          - {kind: timeout, command: measure, probability: 0.1, times: null}
          - {kind: out_of_range, command: measure, after: 5}
          - {kind: disconnect, command: "*", after: 10, times: 3}

Kinds:

* ``timeout``: the device gives up after its normal duration and reports a timeout.
* ``disconnect``: the connection drops halfway through the command.
* ``out_of_range``: the command completes but the reading is physically impossible (every value
  is replaced by ``-1e6``: negative concentrations, yields and masses do not exist).
* ``hang``: the command never returns; only the orchestrator's deadline ends it.

Which calls fault: calls to ``command`` (``"*"``: any) are counted; the first ``after`` pass, then
each call faults with ``probability`` until ``times`` faults happened (``null``: no limit). Draws
come from a generator seeded by the campaign seed and the device, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cfl.errors import DeviceDisconnected, DeviceTimeout

__all__ = ["OUT_OF_RANGE_VALUE", "FaultInjector", "FaultKind", "FaultSpec"]

FaultKind = Literal["timeout", "disconnect", "out_of_range", "hang"]
OUT_OF_RANGE_VALUE = -1e6


class FaultSpec(BaseModel):
    """One kind of fault a simulated device will show."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    command: str = "*"
    """The command it affects (``measure``, ``react``, ``pick`` ...), or ``*`` for any."""
    after: int = Field(default=0, ge=0)
    """Matching calls that pass before the first fault."""
    times: int | None = Field(default=1, ge=1)
    """How many calls fault; ``None`` for every eligible call from then on."""
    probability: float = Field(default=1.0, gt=0, le=1)


class FaultInjector:
    """Decides, call by call, whether a simulated device faults.

    Args:
        device: The device's name, for error messages.
        faults: What to inject.
        rng: Seeded generator for ``probability`` draws.
    """

    def __init__(self, device: str, faults: Sequence[FaultSpec], rng: np.random.Generator) -> None:
        self._device = device
        self._faults = tuple(faults)
        self._rng = rng
        self._calls = [0] * len(self._faults)
        self._fired = [0] * len(self._faults)
        self._pending_corruption = False

    @classmethod
    def none(cls, device: str) -> FaultInjector:
        """An injector that never faults."""
        return cls(device, (), np.random.default_rng(0))

    def _due(self, command: str) -> FaultSpec | None:
        """The fault this call shows, if any (counting the call against every matching spec)."""
        due = None
        for i, fault in enumerate(self._faults):
            if fault.command not in ("*", command):
                continue
            self._calls[i] += 1
            if due is not None or self._calls[i] <= fault.after:
                continue
            if fault.times is not None and self._fired[i] >= fault.times:
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            self._fired[i] += 1
            due = fault
        return due

    async def run(
        self, command: str, duration_s: float, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        """Spend the command's ``duration_s`` of lab time, faulting as configured.

        Raises:
            DeviceTimeout: a ``timeout`` fault, after the full duration.
            DeviceDisconnected: a ``disconnect`` fault, halfway through.
        """
        fault = self._due(command)
        if fault is None:
            await sleep(duration_s)
            return
        if fault.kind == "hang":
            await asyncio.Event().wait()  # never set: only a deadline or cancel ends this
        if fault.kind == "disconnect":
            await sleep(duration_s / 2)
            raise DeviceDisconnected(
                f"{self._device}: connection lost during {command} (injected fault)",
                device=self._device,
                command=command,
            )
        await sleep(duration_s)
        if fault.kind == "timeout":
            raise DeviceTimeout(
                f"{self._device}: {command} timed out inside the device (injected fault)",
                device=self._device,
                command=command,
                timeout_s=duration_s,
            )
        self._pending_corruption = True  # out_of_range: the reading is spoiled

    def corrupt(self, values: dict[str, float]) -> dict[str, float]:
        """The reading as the device reports it: spoiled after an ``out_of_range`` fault."""
        if not self._pending_corruption:
            return values
        self._pending_corruption = False
        return {name: OUT_OF_RANGE_VALUE for name in values}
