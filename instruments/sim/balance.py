"""A simulated analytical balance that weighs what a sample vial holds.

**What it weighs.** The balance reports the net mass of the vial's contents: it holds the empty
vial's mass as a preset tare (``vial_tare_g``; MT-SICS ``PT``), so the display reads gross load
minus the vial (vials are taken as identical). The liquid's mass is derived from the bench sample
the way the flow reactor fills it: ``contents`` holds the concentrations (mol/L) and ``charge``
the conditions, so the volume is ``charge["volume_ml"]`` when whoever filled the vial recorded one,
else ``fill_volume_ml`` (3 mL: the flow reactor collects one reactor volume) for a vial with
contents, and nothing for an empty vial. With ideal, volume-additive mixing (Amagat's law: partial
molar volumes taken as the pure components' molar volumes) each
solute of concentration ``c_i``, molar mass ``M_i`` and density ``ρ_i`` fills the volume fraction
``φ_i = c_i M_i / (1000 ρ_i)``, the solvent the rest, so

    ``m = V · (ρ_solvent · (1 - Σ φ_i) + Σ c_i M_i / 1000)``   (g, with V in mL).

The default solvent is ethanol (0.789 g/mL, as in :mod:`instruments.sim.snar`). The SnAr solutes'
molar masses are :data:`instruments.sim.snar.MOLAR_MASS`; densities are 1.451 g/mL for
2,4-difluoronitrobenzene and 0.852 g/mL for pyrrolidine (supplier data at 25 °C) and an
**estimated** 1.3 g/mL for the three products (typical of nitroaryl amines; not measured). The
hydrogen fluoride the coupling releases is not among the bench species and is not weighed.

An empty vial is not a fault: it weighs nothing net, which is how one checks a tare.

Physics of one weighing:

1. **Settling.** The reading after a load step ``Δ`` approaches the final value as a first-order
   lag (the damped force-restoration loop and the balance's filter),
   ``r(t) = r_∞ - Δ · exp(-t / τ)``. The vial was
   just set on an empty pan (a protocol places it right before it measures), so ``Δ`` is the gross
   load. The balance waits until the remaining approach is below ``stable_within_g``,
   ``t_s = τ · ln(Δ / stable_within_g)`` (0 if ``Δ`` is already that small), then checks
   stability over ``stability_window_s`` and takes the reading at ``T = t_s +
   stability_window_s``, with its residual approach ``Δ · exp(-T / τ)`` still in it.
2. **Drift.** The zero drifts linearly with the time since the last tare (thermal drift of the
   load cell, the first-order model behind the usual "tare again every few hours" SOP):
   ``drift = drift_g_per_h · hours since the last tare``. The balance is tared when it is built,
   and again by :meth:`SimBalance.tare`.
3. **Repeatability.** ``e ~ N(0, repeatability_g)``, the standard deviation of replicate weighings
   (the quantity USP <41> specifies), one draw from the generator keyed by the campaign seed, the
   balance and the sample. Per-sample seeding keeps runs reproducible whatever order concurrent
   experiments finish in; a second weighing of the same vial draws fresh noise, as on a bench.
4. **Readability.** The display shows ``round((m + drift + e - residual) / d) · d`` with the
   readability ``d`` (0.1 mg for an analytical balance; OIML R 76-1's scale interval).

A load above ``capacity_g`` is an overload fault. Weighing takes ``T`` seconds of lab time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NoReturn

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from cfl.bench import BenchSample
from cfl.devices import DeviceContext, Reading, parse_options
from cfl.errors import DeviceFault
from instruments.sim.snar import MOLAR_MASS

__all__ = ["SNAR_SOLUTES", "BalanceOptions", "SimBalance", "Solute"]


class Solute(BaseModel):
    """What the balance needs to know of a dissolved species."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    molar_mass_g_mol: float = Field(gt=0)
    density_g_ml: float = Field(gt=0)
    """Density of the pure species, for the volume it takes up in solution."""


SNAR_SOLUTES: Mapping[str, Solute] = {
    "dfnb": Solute(molar_mass_g_mol=MOLAR_MASS[0], density_g_ml=1.451),
    "pyrrolidine": Solute(molar_mass_g_mol=MOLAR_MASS[1], density_g_ml=0.852),
    "ortho": Solute(molar_mass_g_mol=MOLAR_MASS[2], density_g_ml=1.3),
    "para": Solute(molar_mass_g_mol=MOLAR_MASS[3], density_g_ml=1.3),
    "bis": Solute(molar_mass_g_mol=MOLAR_MASS[4], density_g_ml=1.3),
}
"""The SnAr species; product densities are estimates (see the module docstring)."""


class BalanceOptions(BaseModel):
    """Options of ``sim-balance`` in a lab file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vial_tare_g: float = Field(default=7.0, ge=0)
    """Mass of an empty vial (a 4 mL glass vial with cap), held as the preset tare."""
    fill_volume_ml: float = Field(default=3.0, gt=0)
    """Liquid in a vial with contents whose charge records no ``volume_ml``."""
    solvent_density_g_ml: float = Field(default=0.789, gt=0)
    solutes: dict[str, Solute] = Field(default_factory=lambda: dict(SNAR_SOLUTES))
    """Molar mass and density by species; replaces the defaults."""
    capacity_g: float = Field(default=220.0, gt=0)
    readability_g: float = Field(default=1e-4, gt=0)
    repeatability_g: float = Field(default=1e-4, ge=0)
    settle_tau_s: float = Field(default=0.5, gt=0)
    stable_within_g: float = Field(default=1e-5, gt=0)
    stability_window_s: float = Field(default=1.0, ge=0)
    drift_g_per_h: float = 1e-4
    """Zero drift since the last tare; either sign."""

    @model_validator(mode="after")
    def _check(self) -> BalanceOptions:
        if self.stable_within_g > self.readability_g:
            raise ValueError(
                f"stable_within_g ({self.stable_within_g:g}) must not exceed readability_g "
                f"({self.readability_g:g}): a reading taken before it is stable to the last "
                "digit shows the settling"
            )
        if self.vial_tare_g >= self.capacity_g:
            raise ValueError(
                f"vial_tare_g ({self.vial_tare_g:g}) must be below capacity_g ({self.capacity_g:g})"
            )
        return self


class SimBalance:
    """Simulated analytical balance; see the module docstring.

    Satisfies :class:`cfl.devices.Measures` only. It does not dose: a dosing balance changes
    what is in the vial, which needs the bench to hold amounts rather than concentrations, and
    would be its own driver so that a plain balance never claims :class:`cfl.devices.Doses`.
    """

    def __init__(self, name: str, options: BalanceOptions, context: DeviceContext) -> None:
        self.name = name
        self._options = options
        self._context = context
        self._faults = context.injector(name)
        self.tared_at_s = context.clock.now()
        """Lab time of the last tare, from which the zero drifts."""
        self.measurands: Mapping[str, tuple[float, float]] = {
            "mass_g": (-options.vial_tare_g, options.capacity_g)
        }
        """Net mass: from the empty pan (minus the preset tare) up to the capacity."""

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SimBalance:
        return cls(name, parse_options(BalanceOptions, options, device=name), context)

    def settle_s(self, load_g: float) -> float:
        """Lab seconds from setting ``load_g`` on the pan to the stable reading: ``T``."""
        o = self._options
        step = abs(load_g)
        if step <= o.stable_within_g:
            return o.stability_window_s
        return o.settle_tau_s * math.log(step / o.stable_within_g) + o.stability_window_s

    def drift_g(self, at_s: float) -> float:
        """Zero drift at lab time ``at_s``: ``drift_g_per_h`` times the hours since the tare."""
        return self._options.drift_g_per_h * (at_s - self.tared_at_s) / 3600.0

    def contents_g(self, vial: BenchSample) -> float:
        """True mass of what ``vial`` holds, by the ideal-mixing formula of the module docstring.

        Raises:
            DeviceFault: a species has no solute data, the recorded volume is not a positive
                number, or the solutes would take up more than the whole volume.
        """
        o = self._options
        recorded = vial.charge.get("volume_ml")
        if recorded is None:
            volume = o.fill_volume_ml if vial.contents else 0.0
        elif isinstance(recorded, str) or recorded <= 0:
            self._fault(f"sample {vial.id} records volume_ml={recorded!r}; need a positive number")
        else:
            volume = float(recorded)
        unknown = sorted(set(vial.contents) - set(o.solutes))
        if unknown:
            self._fault(
                f"no molar mass and density for {unknown} in sample {vial.id}; add them to "
                "options.solutes"
            )
        solute_g_per_ml = 0.0
        solute_fraction = 0.0
        for species, concentration in vial.contents.items():
            solute = o.solutes[species]
            g_per_ml = concentration * solute.molar_mass_g_mol / 1000.0
            solute_g_per_ml += g_per_ml
            solute_fraction += g_per_ml / solute.density_g_ml
        if solute_fraction >= 1.0:
            self._fault(
                f"sample {vial.id}'s solutes would fill {100 * solute_fraction:.0f} % of its "
                "volume; the contents are not a solution"
            )
        return volume * (o.solvent_density_g_ml * (1.0 - solute_fraction) + solute_g_per_ml)

    def _fault(self, message: str) -> NoReturn:
        raise DeviceFault(f"{self.name}: {message}", device=self.name, command="measure")

    async def tare(self) -> None:
        """Zero the empty pan (MT-SICS ``Z``), which clears the drift; takes the stability check.

        Raises:
            DeviceFault: a sample sits on the pan.
        """
        on_pan = self._context.bench.occupants(self.name)
        if on_pan:
            raise DeviceFault(
                f"{self.name} cannot tare: {on_pan} on the pan; take it off first",
                device=self.name,
                command="tare",
            )
        await self._faults.run("tare", self._options.stability_window_s, self._context.clock.sleep)
        self.tared_at_s = self._context.clock.now()

    async def measure(self, sample: str) -> Reading:
        """Weigh ``sample``; values hold ``mass_g``, the net mass of its contents.

        Raises:
            DeviceFault: the vial is not on the pan, its contents cannot be weighed (see
                :meth:`contents_g`), or the load exceeds the capacity.
        """
        vial = self._context.bench.require_at(
            sample, self.name, device=self.name, command="measure"
        )
        o = self._options
        net = self.contents_g(vial)
        gross = o.vial_tare_g + net
        if gross > o.capacity_g:
            self._fault(f"overload: {gross:.4f} g on a {o.capacity_g:g} g balance")
        settle = self.settle_s(gross)
        await self._faults.run("measure", settle, self._context.clock.sleep)
        residual = gross * math.exp(-settle / o.settle_tau_s)
        noise = float(self._context.rng(self.name, sample).normal(0.0, o.repeatability_g))
        hours = (self._context.clock.now() - self.tared_at_s) / 3600.0
        shown = net + self.drift_g(self._context.clock.now()) + noise - residual
        digits = max(0, math.ceil(-math.log10(o.readability_g))) + 1  # clears float fuzz only
        mass = round(round(shown / o.readability_g) * o.readability_g, digits) + 0.0  # no -0.0
        return Reading(
            values=self._faults.corrupt({"mass_g": mass}),
            raw={"unit": "g", "settle_s": round(settle, 3), "hours_since_tare": round(hours, 6)},
        )
