"""What CFL asks of a device: small capability protocols, and how a driver is built.

A device is any object; what it can do is the set of protocols it satisfies. The executor checks
a device against the capability a step needs before calling it (:func:`unsupported`), so a
misconfigured lab fails with a message naming the device and the missing capability rather than
an ``AttributeError`` deep in a run. Methods are coroutines: devices wait on the lab clock, which
lets a simulated lab run on virtual time and a real one on the wall clock, unchanged.

A driver is found by name through the ``cfl.devices`` entry-point group and built with
``from_config(name, options, context)``, so the core never imports a driver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import BaseModel, JsonValue, ValidationError

from cfl.bench import Bench
from cfl.clock import LabClock
from cfl.errors import SpecError
from cfl.faults import FaultInjector, FaultSpec
from cfl.space import ParamValue

__all__ = [
    "Closeable",
    "DeviceContext",
    "Doses",
    "Driver",
    "Estimates",
    "Heats",
    "Measures",
    "Reacts",
    "Reading",
    "Stoppable",
    "Transfers",
    "parse_options",
    "unsupported",
]


@dataclass(frozen=True)
class Reading:
    """What a measurement returns."""

    values: Mapping[str, float]
    """Measured quantities by name, e.g. ``{"yield": 83.1}``; objectives are read from here."""
    raw: Mapping[str, JsonValue] = field(default_factory=dict)
    """Primary data behind the values (peak areas, concentrations), kept for the record."""


@runtime_checkable
class Transfers(Protocol):
    """Moves samples between locations: a robot."""

    async def pick(self, sample: str, location: str) -> None:
        """Take ``sample`` from ``location`` into the gripper."""

    async def place(self, sample: str, location: str) -> None:
        """Set the held ``sample`` down at ``location``."""


@runtime_checkable
class Reacts(Protocol):
    """Runs a reaction into a sample vial under given conditions: a reactor station."""

    async def react(self, sample: str, conditions: Mapping[str, ParamValue]) -> None:
        """Make ``sample`` under ``conditions`` (the experiment's parameters)."""


@runtime_checkable
class Measures(Protocol):
    """Measures a sample: an analytical instrument.

    Its class declares ``measurands``: each quantity it reports, with the range the quantity can
    physically take (allowing for measurement noise). The dispatcher refuses readings outside it.
    """

    async def measure(self, sample: str) -> Reading:
        """Measure ``sample``, which sits in the instrument."""


@runtime_checkable
class Doses(Protocol):
    """Adds a reagent to a sample: a liquid handler, syringe pump or powder doser."""

    async def dose(self, sample: str, reagent: str, amount: float) -> float:
        """Add ``amount`` (the device's unit: mL or mg) of ``reagent``; returns what was added."""


@runtime_checkable
class Heats(Protocol):
    """Brings a sample position to a temperature: a heating block, thermostat, hot plate."""

    async def heat(self, sample: str, target_c: float) -> float:
        """Heat (or cool) ``sample`` to ``target_c``; returns the temperature reached."""


@runtime_checkable
class Stoppable(Protocol):
    """Can abort what it is doing: the dispatcher calls it when a step overruns its deadline."""

    async def stop(self) -> None:
        """Abort the running command and leave the device safe."""


@runtime_checkable
class Estimates(Protocol):
    """Knows roughly how long its commands take; the dispatcher sets default deadlines from it."""

    def expected_duration_s(self, command: str, args: Mapping[str, ParamValue]) -> float | None:
        """Lab seconds ``command`` is expected to take with ``args``; ``None`` if unknown.

        For ``react`` the arguments are the experiment's conditions. Cheap, no I/O.
        """


@runtime_checkable
class Closeable(Protocol):
    """Holds a connection: the runner closes it when a run ends, however it ends."""

    async def close(self) -> None:
        """Release the connection; a later call opens it again."""


class Driver(Protocol):
    """What a ``cfl.devices`` entry point must be: a class that builds itself from a lab file.

    The built device's ``measurands`` (class or instance attribute) maps each quantity a measuring
    device reports to its physical range; it is empty for other devices. Capabilities and
    measurands are read off the built device, so they may depend on its options. A device that
    talks to real hardware or a server sets ``requires_wall_clock = True``: a lab on the virtual
    clock is then refused when its spec is checked.
    """

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> object:
        """Build the device called ``name`` from its ``options`` in the lab file.

        Must not touch hardware or the network: CFL also calls it to validate a lab file before
        a campaign starts. Connect when the device is first used.

        Raises:
            SpecError: an option is missing, unknown or invalid.
        """
        ...


@dataclass
class DeviceContext:
    """What a lab gives every device it builds."""

    clock: LabClock
    bench: Bench
    """The simulated bench; only simulators use it."""
    seed: int
    """Campaign seed; simulators draw noise from :meth:`rng` so runs are reproducible."""
    faults: Sequence[FaultSpec] = ()
    """Faults to inject (lab file ``faults:``); only simulators act on them."""
    address: str | None = None
    """Where the device is reached (``host:port``, a VISA resource), from the lab file."""
    data_dir: Path | None = None
    """Where a device may keep data it produces (robot episodes), under CFL_HOME; ``None`` when
    the lab is only being validated."""
    site: str | None = None
    team: str | None = None
    """The lab's site and team, for provenance of the data devices produce."""
    campaign: str | None = None
    """The campaign the lab is built for, for the same reason."""
    _draws: dict[tuple[str, ...], int] = field(default_factory=dict, repr=False)

    def injector(self, device: str) -> FaultInjector:
        """The fault injector for ``device``, seeded like its noise."""
        return FaultInjector(device, self.faults, self.rng(device, "faults"))

    def rng(self, *keys: str) -> np.random.Generator:
        """A random generator fixed by the seed, ``keys`` (device name, sample id) and repeat.

        Seeding per sample, not per call order, keeps noise identical whatever order concurrent
        experiments happen to finish in. Asking again with the same keys (measuring the same
        sample again after a spoiled reading) gives fresh noise, as a real repeat would.
        """
        repeat = self._draws.get(keys, 0)
        self._draws[keys] = repeat + 1
        parts = (str(self.seed), *keys) + ((f"repeat-{repeat}",) if repeat else ())
        digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def unsupported(device: object, capability: type, *, name: str) -> SpecError:
    """The error for a device asked to do what it cannot; callers ``raise`` it.

    Checking with ``isinstance(device, Capability)`` at the call site narrows the type for the
    checker, and this keeps the message the same everywhere.
    """
    return SpecError(
        f"device {name!r} ({type(device).__name__}) cannot do this step: it does not "
        f"implement {capability.__name__}; assign the step's role to a device that does"
    )


OptionsT = TypeVar("OptionsT", bound=BaseModel)


def parse_options(
    model: type[OptionsT], options: Mapping[str, JsonValue], *, device: str
) -> OptionsT:
    """Validate a device's ``options`` from the lab file into the driver's own model.

    Raises:
        SpecError: naming the device, the option and the problem.
    """
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            ("" if not e["loc"] else f"{'.'.join(str(p) for p in e['loc'])}: ")
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise SpecError(f"device {device!r} has bad options: {problems}") from exc
