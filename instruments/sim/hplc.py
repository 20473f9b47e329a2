"""A simulated HPLC with a method calibrated for the SnAr species.

Measurement model: each species' concentration is read as ``c * (1 + e_rel) + e_abs`` with
``e_rel ~ N(0, noise_pct/100)`` (injection and integration scatter, proportional to signal, as in
Summit's noise model) and ``e_abs ~ N(0, detection_limit_m / 3)`` (baseline noise; the detection
limit is three standard deviations), floored at zero. The method then reports assay yield,
conversion, space-time yield and E-factor from the measured concentrations and the conditions
recorded on the vial (:func:`instruments.sim.snar.snar_figures`). Noise is drawn from a generator
seeded by the campaign seed, the instrument and the sample, so a rerun of the campaign reads the
same values (a repeat injection of one sample within a run draws fresh noise).

A run takes ``injection_min + run_min`` minutes of lab time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.devices import DeviceContext, Reading, parse_options
from cfl.errors import DeviceFault
from cfl.space import ParamValue
from instruments.sim.snar import SnarConditions, snar_figures

__all__ = ["HPLCOptions", "SimHPLC"]

_SPECIES = ("dfnb", "pyrrolidine", "ortho", "para", "bis")


class HPLCOptions(BaseModel):
    """Options of ``sim-hplc`` in a lab file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    noise_pct: float = Field(default=2.0, ge=0)
    detection_limit_m: float = Field(default=3e-4, ge=0)
    injection_min: float = Field(default=0.5, ge=0)
    run_min: float = Field(default=6.0, gt=0)


class SimHPLC:
    """Simulated HPLC for the SnAr coupling; see the module docstring."""

    measurands: ClassVar[Mapping[str, tuple[float, float]]] = {
        # percentages may stray a little past 0 and 100 by measurement noise, no further
        "yield": (-10.0, 110.0),
        "conversion": (-10.0, 110.0),
        "space_time_yield": (0.0, 1e5),
        "e_factor": (0.0, 1e3),
    }

    def __init__(self, name: str, options: HPLCOptions, context: DeviceContext) -> None:
        self.name = name
        self._options = options
        self._context = context
        self._faults = context.injector(name)

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SimHPLC:
        return cls(name, parse_options(HPLCOptions, options, device=name), context)

    def expected_duration_s(self, command: str, args: Mapping[str, ParamValue]) -> float | None:
        o = self._options
        return 60.0 * (o.injection_min + o.run_min) if command == "measure" else None

    async def measure(self, sample: str) -> Reading:
        vial = self._context.bench.require_at(
            sample, self.name, device=self.name, command="measure"
        )
        if not vial.contents:
            raise DeviceFault(
                f"{self.name}: sample {sample} is empty; nothing was made in it",
                device=self.name,
                command="measure",
            )
        o = self._options
        await self._faults.run(
            "measure", 60.0 * (o.injection_min + o.run_min), self._context.clock.sleep
        )
        rng = self._context.rng(self.name, sample)
        measured = {}
        for species in _SPECIES:
            true = vial.contents[species]
            reading = true * (1 + rng.normal(0, o.noise_pct / 100)) + rng.normal(
                0, o.detection_limit_m / 3
            )
            measured[species] = max(0.0, float(reading))
        conditions = SnarConditions(
            residence_time_min=float(vial.charge["residence_time"]),
            equivalents=float(vial.charge["equivalents"]),
            concentration_m=float(vial.charge["concentration"]),
            temperature_c=float(vial.charge["temperature"]),
        )
        outlet = tuple(measured[s] for s in _SPECIES)
        figures = snar_figures(outlet, conditions)  # type: ignore[arg-type]
        values = self._faults.corrupt(
            {
                "yield": figures.yield_pct,
                "conversion": figures.conversion_pct,
                "space_time_yield": figures.space_time_yield,
                "e_factor": figures.e_factor,
            }
        )
        return Reading(
            values=values,
            raw={f"{s}_m": round(v, 8) for s, v in measured.items()},
        )
