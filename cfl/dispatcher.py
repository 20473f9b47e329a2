"""The dispatcher: runs an experiment's protocol on the lab's devices, step by step.

One executor and one command registry, as in bluesky's RunEngine: ``reserve`` and ``release``
bind roles to devices through the pools; every other command is looked up in :data:`HANDLERS`,
which narrows the device to the capability the command needs and calls it. Each step is written to
the journal when dispatched and when completed; the experiment ends with exactly one
``observation.recorded`` or ``experiment.failed``. Devices are returned to their pools whatever
happens, so one failed experiment never blocks the others.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from cfl.clock import LabClock
from cfl.devices import Doses, Heats, Measures, Reacts, Reading, Transfers, unsupported
from cfl.errors import (
    CFLError,
    DeviceError,
    DeviceFault,
    ReadingOutOfRange,
    SafetyInterlock,
    SpecError,
)
from cfl.events import (
    ExperimentFailed,
    ExperimentStarted,
    ObservationRecorded,
    StepCompleted,
    StepDispatched,
)
from cfl.journal import Journal
from cfl.models import Experiment, Observation
from cfl.pool import DevicePool
from cfl.space import Point

__all__ = ["HANDLERS", "Dispatcher", "StepContext"]


@dataclass(frozen=True)
class StepContext:
    """What a command handler gets besides the device."""

    device: str
    sample: str
    at: str | None
    """The resolved location: a lab location or the device name bound to the named role."""
    params: Point
    args: Mapping[str, float | int | str]
    """The step's arguments with parameter references resolved."""


Handler = Callable[[object, StepContext], Awaitable[Reading | None]]


async def _pick(device: object, ctx: StepContext) -> None:
    if not isinstance(device, Transfers):
        raise unsupported(device, Transfers, name=ctx.device)
    assert ctx.at is not None  # validate_protocol requires ``at`` for transfers
    await device.pick(ctx.sample, ctx.at)


async def _place(device: object, ctx: StepContext) -> None:
    if not isinstance(device, Transfers):
        raise unsupported(device, Transfers, name=ctx.device)
    assert ctx.at is not None
    await device.place(ctx.sample, ctx.at)


async def _react(device: object, ctx: StepContext) -> None:
    if not isinstance(device, Reacts):
        raise unsupported(device, Reacts, name=ctx.device)
    await device.react(ctx.sample, ctx.params)


async def _measure(device: object, ctx: StepContext) -> Reading:
    if not isinstance(device, Measures):
        raise unsupported(device, Measures, name=ctx.device)
    return await device.measure(ctx.sample)


async def _dose(device: object, ctx: StepContext) -> None:
    if not isinstance(device, Doses):
        raise unsupported(device, Doses, name=ctx.device)
    await device.dose(ctx.sample, str(ctx.args["reagent"]), float(ctx.args["amount"]))


async def _heat(device: object, ctx: StepContext) -> None:
    if not isinstance(device, Heats):
        raise unsupported(device, Heats, name=ctx.device)
    await device.heat(ctx.sample, float(ctx.args["target_c"]))


HANDLERS: Mapping[str, Handler] = {
    "pick": _pick,
    "place": _place,
    "react": _react,
    "measure": _measure,
    "dose": _dose,
    "heat": _heat,
}


class Dispatcher:
    """Runs experiments on a lab's devices; see the module docstring."""

    def __init__(
        self,
        *,
        devices: Mapping[str, object],
        pool: DevicePool,
        journal: Journal,
        clock: LabClock,
        objectives: tuple[str, ...],
    ) -> None:
        self._devices = devices
        self._pool = pool
        self._journal = journal
        self._clock = clock
        self._objectives = objectives

    async def run(self, experiment: Experiment) -> None:
        """Run one queued experiment to ``done`` or ``failed``."""
        eid, attempt, sample = experiment.id, experiment.attempt, experiment.sample
        self._journal.write(
            "cfl",
            ExperimentStarted(
                lab_time_s=self._clock.now(),
                experiment=eid,
                attempt=attempt,
                sample=sample,
            ),
        )
        bindings: dict[str, str] = {}
        values: dict[str, float] = {}
        raw: dict[str, JsonValue] = {}
        measured_by: str | None = None
        current: str | None = None
        try:
            for index, step in enumerate(experiment.protocol):
                if step.command == "reserve":
                    bindings[step.role] = await self._pool.acquire(step.role)
                    continue
                if step.command == "release":
                    self._pool.release(bindings.pop(step.role))
                    continue
                current = bindings[step.role]
                at = None if step.at is None else bindings.get(step.at, step.at)
                started = self._clock.now()
                self._journal.write(
                    "cfl",
                    StepDispatched(
                        lab_time_s=started,
                        experiment=eid,
                        attempt=attempt,
                        step=index,
                        command=step.command,
                        role=step.role,
                        device=current,
                        at=at,
                    ),
                )
                context = StepContext(
                    device=current,
                    sample=sample,
                    at=at,
                    params=experiment.params,
                    args=step.resolved_args(experiment.params),
                )
                reading = await self._call(step.command, current, context)
                self._journal.write(
                    f"device:{current}",
                    StepCompleted(
                        lab_time_s=self._clock.now(),
                        experiment=eid,
                        attempt=attempt,
                        step=index,
                        device=current,
                        duration_s=self._clock.now() - started,
                    ),
                )
                if reading is not None:
                    values.update(self._checked(reading, current, self._devices[current]))
                    raw.update(reading.raw)
                    measured_by = current
                current = None
            missing = [name for name in self._objectives if name not in values]
            if measured_by is None or missing:
                raise DeviceFault(
                    f"no reading of objectives {missing} after the protocol ran; check which "
                    "instrument measures them",
                    device=measured_by or "-",
                )
            observation = Observation(
                experiment=eid,
                values=values,
                device=measured_by,
                lab_time_s=self._clock.now(),
                raw=raw,
            )
            self._journal.write(
                f"device:{measured_by}",
                ObservationRecorded(lab_time_s=self._clock.now(), observation=observation),
            )
        except (DeviceError, SafetyInterlock, SpecError) as exc:
            device = exc.device if isinstance(exc, (DeviceError, SafetyInterlock)) else current
            self._journal.write(
                "cfl",
                ExperimentFailed(
                    lab_time_s=self._clock.now(),
                    experiment=eid,
                    attempt=attempt,
                    reason=str(exc),
                    error=type(exc).__name__,
                    device=device,
                ),
            )
        finally:
            for device_name in bindings.values():
                self._pool.release(device_name)

    async def _call(self, command: str, device: str, context: StepContext) -> Reading | None:
        """Run one command; a driver's own exceptions become :class:`DeviceFault` here, once."""
        try:
            return await HANDLERS[command](self._devices[device], context)
        except CFLError:
            raise
        except Exception as exc:
            raise DeviceFault(
                f"{device} failed in {command}: {type(exc).__name__}: {exc}",
                device=device,
                command=command,
            ) from exc

    @staticmethod
    def _checked(reading: Reading, name: str, device: object) -> dict[str, float]:
        """The reading's values, refused if one is not finite or outside its physical range."""
        ranges: Mapping[str, tuple[float, float]] = getattr(device, "measurands", {})
        values: dict[str, float] = {}
        for quantity, value in reading.values.items():
            number = float(value)
            if not math.isfinite(number):
                raise DeviceFault(
                    f"{name} reported {quantity}={value}, which is not a finite number",
                    device=name,
                    command="measure",
                )
            low, high = ranges.get(quantity, (-math.inf, math.inf))
            if not low <= number <= high:
                raise ReadingOutOfRange(
                    f"{name} reported {quantity}={number:g}, outside the range "
                    f"[{low:g}, {high:g}] it can physically take",
                    device=name,
                    command="measure",
                )
            values[quantity] = number
        return values
