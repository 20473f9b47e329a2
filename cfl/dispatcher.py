"""The dispatcher: runs an experiment's protocol on the lab's devices, step by step.

One executor and one command registry, as in bluesky's RunEngine: ``reserve`` and ``release``
bind roles to devices through the pools; every other command is looked up in :data:`HANDLERS`,
which narrows the device to the capability the command needs and calls it. Each step is written to
the journal when dispatched and when completed; the experiment ends with exactly one
``observation.recorded`` or ``experiment.failed``. Devices are returned to their pools whatever
happens, so one failed experiment never blocks the others.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import JsonValue

from cfl.clock import LabClock
from cfl.devices import (
    Doses,
    Estimates,
    Heats,
    Measures,
    Reacts,
    Reading,
    Stoppable,
    Transfers,
    unsupported,
)
from cfl.errors import (
    CFLError,
    DeviceError,
    DeviceFault,
    DeviceTimeout,
    DeviceUnavailable,
    ReadingOutOfRange,
    SafetyInterlock,
    SpecError,
)
from cfl.events import (
    DeviceQuarantined,
    ExperimentFailed,
    ExperimentRequeued,
    ExperimentStarted,
    ObservationRecorded,
    SampleDiscarded,
    StepCompleted,
    StepDispatched,
    StepFailed,
)
from cfl.journal import Journal
from cfl.lab import LabSpec
from cfl.models import Experiment, Observation
from cfl.pool import DevicePool
from cfl.space import Point

__all__ = ["HANDLERS", "DispatchHooks", "Dispatcher", "StepCall", "StepContext"]


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


@dataclass(frozen=True)
class StepCall:
    """One protocol step as :class:`DispatchHooks` see it (reserve/release are not steps)."""

    experiment: str
    attempt: int
    step: int
    """Index in the protocol; -1 for moves that clear a failed experiment's vial."""
    command: str
    role: str
    device: str
    deadline_s: float | None
    """Lab seconds one attempt may take, or ``None`` for none."""


class DispatchHooks(Protocol):
    """Where an orchestrator (``flows``: Prefect) wraps the dispatcher's units of work.

    Each hook gets the work as a coroutine factory and must await it exactly once and return (or
    raise) what it returns (raises): the dispatcher still journals every step, retries device
    faults by the lab policy and settles the experiment, so the journal stays the one record.
    """

    async def experiment(self, experiment: Experiment, run: Callable[[], Awaitable[None]]) -> None:
        """Run one experiment's protocol, ``run()``, e.g. as a subflow."""
        ...

    async def step(
        self, call: StepCall, run: Callable[[], Awaitable[Reading | None]]
    ) -> Reading | None:
        """Run one step with its journaled attempts, ``run()``, e.g. as a task."""
        ...


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
        lab: LabSpec,
        objectives: tuple[str, ...],
        hooks: DispatchHooks | None = None,
    ) -> None:
        self._hooks = hooks
        self._devices = devices
        self._pool = pool
        self._journal = journal
        self._clock = clock
        self._lab = lab
        self._policy = lab.policy
        self._objectives = objectives

    async def run(self, experiment: Experiment) -> None:
        """Run one queued experiment to ``done`` or ``failed``."""
        if self._hooks is None:
            await self._run(experiment)
        else:
            await self._hooks.experiment(experiment, lambda: self._run(experiment))

    async def _run(self, experiment: Experiment) -> None:
        eid, attempt, sample = experiment.id, experiment.attempt, experiment.sample
        self._journal.write(
            "cfl",
            ExperimentStarted(
                lab_time_s=self._clock.now(), experiment=eid, attempt=attempt, sample=sample
            ),
        )
        bindings: dict[str, str] = {}
        values: dict[str, float] = {}
        raw: dict[str, JsonValue] = {}
        measured_by: str | None = None
        where: str | None = None  # the vial: a location, a station, or "robot:<name>"
        try:
            for index, step in enumerate(experiment.protocol):
                if step.command == "reserve":
                    bindings[step.role] = await self._pool.acquire(
                        step.role, priority=experiment.index
                    )
                    continue
                if step.command == "release":
                    self._pool.release(bindings.pop(step.role))
                    continue
                device = bindings[step.role]
                at = None if step.at is None else bindings.get(step.at, step.at)
                context = StepContext(
                    device=device,
                    sample=sample,
                    at=at,
                    params=experiment.params,
                    args=step.resolved_args(experiment.params),
                )
                reading = await self._step(
                    experiment, index, step.command, context, step.timeout_s, retry=True
                )
                if step.command == "pick":
                    where = f"robot:{device}"
                elif step.command == "place":
                    where = at
                if reading is not None:
                    values.update(reading.values)
                    raw.update(reading.raw)
                    measured_by = device
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
        except DeviceUnavailable as exc:
            # Nothing is wrong with the experiment: the lab lacks a device. Clear its vial and put
            # it back in the queue for when a human has brought a device back.
            if where is not None:
                await self._clear(experiment, where, bindings)
            self._journal.write(
                "cfl",
                ExperimentRequeued(
                    lab_time_s=self._clock.now(),
                    experiment=eid,
                    attempt=attempt + 1,
                    reason=f"waiting for a device: {exc}",
                ),
            )
        except (DeviceError, SafetyInterlock, SpecError) as exc:
            if where is not None:
                await self._clear(experiment, where, bindings)
            device_name = exc.device if isinstance(exc, (DeviceError, SafetyInterlock)) else None
            self._journal.write(
                "cfl",
                ExperimentFailed(
                    lab_time_s=self._clock.now(),
                    experiment=eid,
                    attempt=attempt,
                    reason=str(exc),
                    error=type(exc).__name__,
                    device=device_name,
                ),
            )
        finally:
            for device_name in bindings.values():
                self._pool.release(device_name)

    async def _step(
        self,
        experiment: Experiment,
        index: int,
        command: str,
        context: StepContext,
        timeout_s: float | None,
        *,
        retry: bool,
    ) -> Reading | None:
        """One step through the hooks, if any (see :meth:`_attempts`)."""
        if self._hooks is None:
            return await self._attempts(experiment, index, command, context, timeout_s, retry=retry)
        device = context.device
        call = StepCall(
            experiment=experiment.id,
            attempt=experiment.attempt,
            step=index,
            command=command,
            role=self._role_of(device),
            device=device,
            deadline_s=self._deadline_s(command, context, timeout_s),
        )
        return await self._hooks.step(
            call,
            lambda: self._attempts(experiment, index, command, context, timeout_s, retry=retry),
        )

    def _role_of(self, device: str) -> str:
        return next((r for r, members in self._lab.roles.items() if device in members), device)

    async def _attempts(
        self,
        experiment: Experiment,
        index: int,
        command: str,
        context: StepContext,
        timeout_s: float | None,
        *,
        retry: bool,
    ) -> Reading | None:
        """One step, journaled, within its deadline, retried after retryable faults.

        A failed attempt is an alert (``step.failed``). It is retried after
        ``backoff_s * backoff_factor**k`` lab seconds (k = 0, 1, ...) while the error is
        retryable, attempts remain and the device is in service; a device that fails
        ``quarantine_after`` attempts in a row is quarantined. Safety stops are never retried.
        """
        device = context.device
        role = self._role_of(device)
        deadline = self._deadline_s(command, context, timeout_s)
        for attempt in itertools.count():
            started = self._clock.now()
            self._journal.write(
                "cfl",
                StepDispatched(
                    lab_time_s=started,
                    experiment=experiment.id,
                    attempt=experiment.attempt,
                    step=index,
                    command=command,
                    role=role,
                    device=device,
                    at=context.at,
                ),
            )
            try:
                reading = await self._call_within(command, context, deadline)
                if reading is not None:  # a spoiled reading fails the attempt, so it is retried
                    reading = self._checked(reading, device, self._devices[device])
            except (DeviceError, SafetyInterlock) as exc:
                delay = self._retry_delay(exc, attempt) if retry else None
                self._journal.write(
                    "cfl",
                    StepFailed(
                        lab_time_s=self._clock.now(),
                        experiment=experiment.id,
                        attempt=experiment.attempt,
                        step=index,
                        device=device,
                        error=type(exc).__name__,
                        message=str(exc),
                        retry_in_s=delay,
                    ),
                )
                if self._quarantine_if_failing(device, exc):
                    raise
                if delay is None:
                    raise
                await self._clock.sleep(delay)
                continue
            self._journal.write(
                f"device:{device}",
                StepCompleted(
                    lab_time_s=self._clock.now(),
                    experiment=experiment.id,
                    attempt=experiment.attempt,
                    step=index,
                    device=device,
                    duration_s=self._clock.now() - started,
                ),
            )
            return reading
        raise AssertionError("unreachable")  # pragma: no cover

    def _deadline_s(
        self, command: str, context: StepContext, step_timeout_s: float | None
    ) -> float | None:
        """The step's deadline in lab seconds, or ``None`` for none.

        The protocol's, else the device's, else three times what the device expects the command
        to take and at least five minutes more, if it can tell (:class:`~cfl.devices.Estimates`).
        """
        if step_timeout_s is not None:
            return step_timeout_s
        configured = self._lab.devices[context.device].step_timeout_s
        if configured is not None:
            return configured
        device = self._devices[context.device]
        if isinstance(device, Estimates):
            args = context.params if command == "react" else context.args
            expected = device.expected_duration_s(command, args)
            if expected is not None:
                return max(3.0 * expected, expected + 300.0)
        return None

    def _retry_delay(self, exc: CFLError, attempt: int) -> float | None:
        """Lab seconds before the next attempt, or ``None`` when there is none."""
        if not isinstance(exc, DeviceError) or not exc.retryable:
            return None  # includes SafetyInterlock: a safety stop is never retried
        if attempt >= self._policy.retries:
            return None
        return self._policy.backoff_s * self._policy.backoff_factor**attempt

    def _quarantine_if_failing(self, device: str, exc: CFLError) -> bool:
        """Quarantine ``device`` once it has failed too often in a row; True if it is out."""
        campaign = self._journal.campaign
        if device in campaign.quarantined:
            return True
        failures = campaign.consecutive_failures.get(device, 0)
        if failures < self._policy.quarantine_after:
            return False
        self._quarantine(
            device,
            f"{failures} failed attempts in a row; last: {type(exc).__name__}: {exc}",
        )
        return True

    def _quarantine(self, device: str, reason: str) -> None:
        self._pool.quarantine(device)
        self._journal.write(
            "cfl", DeviceQuarantined(lab_time_s=self._clock.now(), device=device, reason=reason)
        )

    async def _clear(self, experiment: Experiment, where: str, bindings: dict[str, str]) -> None:
        """Move the vial of a failed experiment to the discard, so no station stays blocked.

        Best effort, one attempt per move. If the vial cannot be moved, the station (or the robot
        holding it) is quarantined: it needs a human before it can take another sample.
        """
        holder = where.removeprefix("robot:") if where.startswith("robot:") else None
        station = where if holder is None and where in self._lab.devices else None
        if holder is None and station is None:
            return  # in a rack or the archive: nothing is blocked
        discard = self._lab.discard
        blocked = holder or station
        assert blocked is not None
        if discard is None:
            self._quarantine(
                blocked,
                f"holds vial {experiment.sample} of failed experiment {experiment.id}, and the lab "
                "has no discard location; clear it by hand, then release the device",
            )
            return
        robot_role = next(
            (s.role for s in experiment.protocol if s.command in ("pick", "place")), None
        )
        acquired: str | None = None
        try:
            if holder is not None:
                robot = holder
            elif robot_role is not None and robot_role in bindings:
                robot = bindings[robot_role]
            elif robot_role is not None:
                robot = acquired = await self._pool.acquire(robot_role, priority=-1.0)
            else:
                raise DeviceUnavailable("no robot role in the protocol", device=blocked)
            context = StepContext(
                device=robot, sample=experiment.sample, at=station, params={}, args={}
            )
            if station is not None:
                await self._step(experiment, -1, "pick", context, None, retry=False)
            await self._step(
                experiment,
                -1,
                "place",
                StepContext(device=robot, sample=experiment.sample, at=discard, params={}, args={}),
                None,
                retry=False,
            )
            self._journal.write(
                f"device:{robot}",
                SampleDiscarded(
                    lab_time_s=self._clock.now(),
                    experiment=experiment.id,
                    sample=experiment.sample,
                    source=station or f"gripper of {robot}",
                    robot=robot,
                ),
            )
        except (DeviceError, SafetyInterlock) as exc:
            if blocked not in self._journal.campaign.quarantined:
                self._quarantine(
                    blocked,
                    f"holds vial {experiment.sample} of failed experiment {experiment.id}, which "
                    f"could not be discarded ({exc}); clear it by hand, then release the device",
                )
        finally:
            if acquired is not None:
                self._pool.release(acquired)

    async def _call_within(
        self, command: str, context: StepContext, deadline_s: float | None
    ) -> Reading | None:
        """Run a command, stopping the device if it overruns its deadline."""
        if deadline_s is None:
            return await self._call(command, context)
        try:
            async with self._clock.timeout(deadline_s):
                return await self._call(command, context)
        except TimeoutError as exc:
            stopped = await self._stop(context.device)
            raise DeviceTimeout(
                f"{context.device} did not finish {command} within {deadline_s:g} s of lab time"
                + ("; it was stopped" if stopped else "; it cannot be stopped remotely"),
                device=context.device,
                command=command,
                timeout_s=deadline_s,
            ) from exc

    async def _stop(self, device: str) -> bool:
        """Ask a device that overran its deadline to stop; True if it could be asked."""
        target = self._devices[device]
        if not isinstance(target, Stoppable):
            return False
        with contextlib.suppress(CFLError, TimeoutError):
            async with self._clock.timeout(30.0):
                await target.stop()
        return True

    async def _call(self, command: str, context: StepContext) -> Reading | None:
        """Run one command; a driver's own exceptions become :class:`DeviceFault` here, once."""
        device = context.device
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
    def _checked(reading: Reading, name: str, device: object) -> Reading:
        """The reading, refused if a value is not finite or outside its physical range."""
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
        return Reading(values=values, raw=reading.raw)
