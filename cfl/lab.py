"""The lab file: which devices exist, what role each plays, and where samples can sit.

A lab file is YAML, validated into a frozen :class:`LabSpec`::

    name: demo-flow-lab
    clock: virtual            # simulated devices; use "wall" when real hardware takes part
    locations:
      rack: {supply: true}    # hands out an empty vial whenever one is picked here
      archive: {}
    devices:
      reactor-1: {driver: sim-flow-reactor, role: reactor}
      hplc-1:    {driver: sim-hplc, role: hplc, options: {noise_pct: 1.5}}
      kapex-1:   {driver: sim-kapex, role: robot}

A role is a pool of interchangeable devices; protocols name roles, and the dispatcher picks a free
device of the role at run time. Each device is also a location (its own station) holding one sample.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from cfl.bench import Bench
from cfl.clock import LabClock
from cfl.devices import DeviceContext
from cfl.errors import SpecError
from cfl.faults import FaultSpec
from cfl.registry import load_plugin

__all__ = ["DevicePolicy", "DeviceSpec", "Lab", "LabSpec", "LocationSpec"]

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocationSpec(_Frozen):
    """A place samples can sit that is not a device (rack, archive, waste)."""

    supply: bool = False
    """Picking here yields a fresh empty vial (a stocked rack)."""
    discard: bool = False
    """Where the dispatcher puts the vial of a failed experiment, to free its station."""
    capacity: int | None = Field(default=None, ge=1)
    """How many samples fit; ``None`` for unlimited."""


class DeviceSpec(_Frozen):
    """One device in the lab."""

    driver: str
    """Entry-point name in ``cfl.devices`` (e.g. ``sim-hplc``) or ``module:Class``."""
    role: str
    """Pool the device serves in; protocol steps name roles, not devices."""
    options: dict[str, JsonValue] = Field(default_factory=dict)
    """Passed to the driver's ``from_config``; the driver validates them."""
    address: str | None = None
    """Where the driver reaches the device: ``host:port`` for SiLA 2, a VISA resource string."""
    step_timeout_s: float | None = Field(default=None, gt=0)
    """Lab seconds any one command may take on this device before the dispatcher gives up."""
    faults: tuple[FaultSpec, ...] = ()
    """Faults a simulated device will inject (see :mod:`cfl.faults`)."""


class DevicePolicy(_Frozen):
    """How the dispatcher treats a device that fails."""

    retries: int = Field(default=2, ge=0)
    """Further attempts at a step after a retryable fault (never after a safety stop)."""
    backoff_s: float = Field(default=30.0, ge=0)
    """Lab seconds before the first retry; each later retry waits ``backoff_factor`` times more."""
    backoff_factor: float = Field(default=2.0, ge=1)
    quarantine_after: int = Field(default=3, ge=1)
    """Failed attempts in a row after which a device is taken out of service."""


class LabSpec(_Frozen):
    """A whole lab: devices, roles, locations and which clock it runs on."""

    name: str
    site: str | None = None
    """Where the lab is (institute, building); recorded with every robot episode it produces."""
    team: str | None = None
    """The team running it on a shared platform; recorded with every robot episode."""
    clock: Literal["virtual", "wall"] = "wall"
    locations: dict[str, LocationSpec] = Field(default_factory=dict)
    devices: dict[str, DeviceSpec] = Field(min_length=1)
    policy: DevicePolicy = DevicePolicy()

    @field_validator("locations", "devices")
    @classmethod
    def _validate_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not _SLUG.match(name):
                raise ValueError(
                    f"name {name!r} must start with a letter or digit and hold only letters, "
                    "digits, '-', '_' and '.'"
                )
        return value

    @model_validator(mode="after")
    def _validate_disjoint(self) -> LabSpec:
        clash = sorted(set(self.locations) & set(self.devices))
        if clash:
            raise ValueError(f"names used for both a location and a device: {clash}; rename one")
        discards = [name for name, loc in self.locations.items() if loc.discard]
        if len(discards) > 1:
            raise ValueError(f"only one location may be the discard, got {discards}")
        return self

    @property
    def discard(self) -> str | None:
        """The location failed experiments' vials go to, if the lab has one."""
        return next((name for name, loc in self.locations.items() if loc.discard), None)

    @property
    def roles(self) -> dict[str, list[str]]:
        """Role to the names of its devices, in lab-file order."""
        roles: dict[str, list[str]] = {}
        for name, device in self.devices.items():
            roles.setdefault(device.role, []).append(name)
        return roles

    def driver_class(self, device: str) -> type:
        """The driver class of ``device``, loaded through the plug-in registry.

        Raises:
            SpecError: the driver name is unknown or does not name a class.
        """
        try:
            driver = load_plugin("cfl.devices", self.devices[device].driver)
        except SpecError as exc:
            raise SpecError(exc.message, field=f"lab.devices.{device}.driver") from exc
        if not isinstance(driver, type) or not hasattr(driver, "from_config"):
            raise SpecError(
                f"{self.devices[device].driver!r} is not a device driver class with from_config",
                field=f"lab.devices.{device}.driver",
            )
        return driver


@dataclass
class Lab:
    """A built lab: live device objects and the bench they share."""

    spec: LabSpec
    devices: Mapping[str, object]
    bench: Bench

    @classmethod
    def build(
        cls,
        spec: LabSpec,
        *,
        clock: LabClock,
        seed: int,
        data_dir: Path | None = None,
        campaign: str | None = None,
    ) -> Lab:
        """Build every device of ``spec`` through its driver.

        Raises:
            SpecError: a driver is unknown or rejects its options.
        """
        bench = Bench(
            {name: loc.capacity for name, loc in spec.locations.items()},
            supplies=frozenset(n for n, loc in spec.locations.items() if loc.supply),
        )
        devices: dict[str, object] = {}
        for name, device in spec.devices.items():
            driver = spec.driver_class(name)
            bench.add_location(name, 1)
            context = DeviceContext(
                clock=clock,
                bench=bench,
                seed=seed,
                faults=device.faults,
                address=device.address,
                data_dir=data_dir,
                site=spec.site,
                team=spec.team,
                campaign=campaign,
            )
            try:
                devices[name] = driver.from_config(name, device.options, context)  # type: ignore[attr-defined]
            except SpecError as exc:
                where = f"lab.devices.{name}.{exc.field or 'options'}"
                raise SpecError(exc.message, field=where) from exc
        return cls(spec=spec, devices=devices, bench=bench)
