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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from cfl.bench import Bench
from cfl.clock import LabClock
from cfl.devices import DeviceContext
from cfl.errors import SpecError
from cfl.registry import load_plugin

__all__ = ["DeviceSpec", "Lab", "LabSpec", "LocationSpec"]

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocationSpec(_Frozen):
    """A place samples can sit that is not a device (rack, archive, waste)."""

    supply: bool = False
    """Picking here yields a fresh empty vial (a stocked rack)."""
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


class LabSpec(_Frozen):
    """A whole lab: devices, roles, locations and which clock it runs on."""

    name: str
    clock: Literal["virtual", "wall"] = "wall"
    locations: dict[str, LocationSpec] = Field(default_factory=dict)
    devices: dict[str, DeviceSpec] = Field(min_length=1)

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
        return self

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
            raise SpecError(str(exc), field=f"lab.devices.{device}.driver") from exc
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
    def build(cls, spec: LabSpec, *, clock: LabClock, seed: int) -> Lab:
        """Build every device of ``spec`` through its driver.

        Raises:
            SpecError: a driver is unknown or rejects its options.
        """
        bench = Bench(
            {name: loc.capacity for name, loc in spec.locations.items()},
            supplies=frozenset(n for n, loc in spec.locations.items() if loc.supply),
        )
        context = DeviceContext(clock=clock, bench=bench, seed=seed)
        devices: dict[str, object] = {}
        for name, device in spec.devices.items():
            driver = spec.driver_class(name)
            bench.add_location(name, 1)
            try:
                devices[name] = driver.from_config(name, device.options, context)  # type: ignore[attr-defined]
            except SpecError as exc:
                raise SpecError(str(exc), field=f"lab.devices.{name}.options") from exc
        return cls(spec=spec, devices=devices, bench=bench)
