"""``driver: sila``: any CFL device reached over SiLA 2.

A lab file names the server and says what the device can do::

    devices:
      hplc-1:
        driver: sila
        role: hplc
        address: 127.0.0.1:50052
        options:
          capabilities: [measures]
          measurands: {yield: [-10, 110], e_factor: [0, 1000]}

CFL decides what a device can do with ``isinstance(device, Measures)`` and reads ``measurands``
off it, before any connection exists (``from_config`` does no I/O: it also validates lab files).
So the capabilities come from the options, and :meth:`SilaDevice.from_config` returns an object
of a class composed for exactly those capabilities from one small mixin each
(``SilaDevice[measures]``); a device that does not declare ``transfers`` has no ``pick``.

It connects on first use (:class:`~instruments.sila.client.SilaConnection`) and runs on the wall
clock: a lab with a SiLA 2 device must say ``clock: wall``. Each command's progress (SiLA 2
ExecutionInfo) goes to the listeners added with :meth:`SilaDevice.add_progress_listener`.
``stop`` (capability ``stoppable``) sends the ``Stoppable.Stop`` command; the server's device
aborts what it runs, and the aborted command ends with ``DeviceFault``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator

from cfl.clock import VirtualTimeEventLoop
from cfl.devices import DeviceContext, Reading, parse_options
from cfl.errors import DeviceFault, SpecError
from cfl.space import ParamValue
from cfl.wire.address import split_address
from instruments.sila.client import SilaConnection
from instruments.sila.codec import conditions_to_wire, reading_from_wire

__all__ = ["ProgressListener", "SilaDevice", "SilaOptions"]

CapabilityName = Literal["transfers", "reacts", "measures", "doses", "heats", "stoppable"]

ProgressListener = Callable[[str, str, float], None]
"""Called with the device name, the CFL command (``measure``) and its progress (0 to 1)."""


class SilaOptions(BaseModel):
    """Options of ``driver: sila`` in a lab file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capabilities: tuple[CapabilityName, ...] = Field(min_length=1)
    """What the device can do; the server must implement the matching features."""
    measurands: dict[str, tuple[float, float]] = Field(default_factory=dict, validate_default=True)
    """For ``measures``: each quantity the instrument reports and its physical range."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Wall seconds to wait for the server when connecting."""
    poll_s: float = Field(default=0.25, gt=0)
    """Longest wall-second pause between polls of a running command."""

    @field_validator("capabilities")
    @classmethod
    def _unique(cls, capabilities: tuple[CapabilityName, ...]) -> tuple[CapabilityName, ...]:
        if len(set(capabilities)) != len(capabilities):
            raise ValueError(f"one is listed twice in {list(capabilities)}; list each once")
        return capabilities

    @field_validator("measurands")
    @classmethod
    def _measured(
        cls, measurands: dict[str, tuple[float, float]], info: ValidationInfo
    ) -> dict[str, tuple[float, float]]:
        measures = "measures" in info.data.get("capabilities", ())
        if measures and not measurands:
            raise ValueError(
                "a measuring device needs them: each quantity it reports and its range, "
                "e.g. {yield: [-10, 110]}"
            )
        if measurands and not measures:
            raise ValueError(
                "given, but capabilities lack 'measures'; add it, or remove the measurands"
            )
        for name, (low, high) in measurands.items():
            if not low < high:
                raise ValueError(f"{name}: low must be less than high, got [{low}, {high}]")
        return measurands


class SilaDevice:
    """A CFL device behind a SiLA 2 server; built by :meth:`from_config` (see the module doc).

    This class has no capability of its own: the built object's class adds them.
    """

    measurands: Mapping[str, tuple[float, float]] = {}
    capabilities: ClassVar[tuple[CapabilityName, ...]] = ()
    requires_wall_clock: ClassVar[bool] = True
    """A real server works in real time: CFL refuses this device in a virtual-clock lab."""

    def __init__(self, name: str, options: SilaOptions, address: str) -> None:
        self.name = name
        self.address = address
        self.measurands = dict(options.measurands)
        self.connection = SilaConnection(
            address,
            device=name,
            connect_timeout_s=options.connect_timeout_s,
            poll_s=options.poll_s,
        )
        self._listeners: list[ProgressListener] = []

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SilaDevice:
        """Build the device; no I/O (it connects when first used).

        Raises:
            SpecError: the options are invalid, or the address is missing or not ``host:port``.
        """
        parsed = parse_options(SilaOptions, options, device=name)
        if context.address is None:
            raise SpecError(
                f"device {name!r} (driver sila) needs the address of its SiLA 2 server; add "
                "address: HOST:PORT (e.g. 127.0.0.1:50052) to it in the lab file",
                field="address",
            )
        try:
            split_address(context.address)
        except ValueError as exc:
            raise SpecError(f"device {name!r} has a bad address: {exc}", field="address") from exc
        return composed(parsed.capabilities)(name, parsed, context.address)

    def add_progress_listener(self, listener: ProgressListener) -> None:
        """Receive the progress of every command this device runs."""
        self._listeners.append(listener)

    def _progress(self, command: str) -> Callable[[float], None]:
        def report(fraction: float) -> None:
            for listener in self._listeners:
                listener(self.name, command, fraction)

        return report

    def _check_clock(self) -> None:
        if isinstance(asyncio.get_running_loop(), VirtualTimeEventLoop):
            raise SpecError(
                f"device {self.name!r} is reached over SiLA 2 and works in real time, but the lab "
                "runs on a virtual clock; set clock: wall in the lab file"
            )

    async def _run(self, feature: str, command: str, cfl_command: str, **parameters: Any) -> Any:
        """Run an observable command of the device's server, reporting its progress."""
        self._check_clock()
        return await self.connection.run(
            feature,
            command,
            cfl_command=cfl_command,
            on_progress=self._progress(cfl_command),
            **parameters,
        )

    async def close(self) -> None:
        """Close the connection to the server, if one was made."""
        await self.connection.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, address={self.address!r})"


class _Transfers(SilaDevice):
    async def pick(self, sample: str, location: str) -> None:
        await self._run("Transfers", "Pick", "pick", Sample=sample, Location=location)

    async def place(self, sample: str, location: str) -> None:
        await self._run("Transfers", "Place", "place", Sample=sample, Location=location)


class _Reacts(SilaDevice):
    async def react(self, sample: str, conditions: Mapping[str, ParamValue]) -> None:
        await self._run(
            "Reacts", "React", "react", Sample=sample, Conditions=conditions_to_wire(conditions)
        )


class _Measures(SilaDevice):
    async def measure(self, sample: str) -> Reading:
        responses = await self._run("Measures", "Measure", "measure", Sample=sample)
        try:
            return reading_from_wire(responses.Values, responses.Raw)
        except ValueError as exc:  # the server broke the Measures feature's contract
            raise DeviceFault(
                f"{self.name} at {self.address} sent a reading CFL cannot read: {exc}",
                device=self.name,
                command="measure",
            ) from exc


class _Doses(SilaDevice):
    async def dose(self, sample: str, reagent: str, amount: float) -> float:
        responses = await self._run(
            "Doses", "Dose", "dose", Sample=sample, Reagent=reagent, Amount=float(amount)
        )
        return float(responses.Added)


class _Heats(SilaDevice):
    async def heat(self, sample: str, target_c: float) -> float:
        responses = await self._run(
            "Heats", "Heat", "heat", Sample=sample, TargetTemperature=float(target_c)
        )
        return float(responses.ReachedTemperature)


class _Stoppable(SilaDevice):
    async def stop(self) -> None:
        await self.connection.call("Stoppable", "Stop", cfl_command="stop")


_MIXINS: Mapping[CapabilityName, type[SilaDevice]] = {
    "transfers": _Transfers,
    "reacts": _Reacts,
    "measures": _Measures,
    "doses": _Doses,
    "heats": _Heats,
    "stoppable": _Stoppable,
}


@cache
def composed(capabilities: tuple[CapabilityName, ...]) -> type[SilaDevice]:
    """The device class with exactly ``capabilities``, made once per set and order."""
    bases = tuple(_MIXINS[name] for name in capabilities)
    name = f"SilaDevice[{','.join(capabilities)}]"
    cls = cast(type[SilaDevice], type(name, bases, {"capabilities": capabilities}))
    cls.__module__ = __name__
    return cls
