"""A simulated scanning UV-Vis spectrophotometer that reads a vial's absorption spectrum.

Physics, in the order the light meets it:

1. **Sample preparation.** The instrument draws an aliquot of the vial and dilutes it by
   ``dilution`` into a cuvette of path ``l = pathlength_cm`` (the vial is not changed). The demo's
   vials hold 0.1-0.5 mol/L of strongly absorbing nitroaromatics, which no cuvette reads neat; the
   default 1:1000 dilution brings them to about 0.1-2 A. Set ``dilution: 1`` for a flow cell
   reading the stream as it is.
2. **Beer-Lambert law** (IUPAC Gold Book, "Beer-Lambert law"; additivity over independent
   absorbers): ``A(λ) = l · Σ_i ε_i(λ) · c_i / dilution`` with ``c_i`` in mol/L from the bench
   sample's ``contents``, ``ε_i`` in L mol⁻¹ cm⁻¹ and ``l`` in cm.
3. **Band shapes.** Each species' molar absorptivity is a sum of Gaussian bands,
   ``ε_i(λ) = Σ_b ε_b · exp(-4 ln 2 · (λ - λ_b)² / w_b²)`` with centre ``λ_b``, peak ``ε_b`` and
   full width at half maximum ``w_b``: the usual empirical model of broad solution bands
   (e.g. Perkampus, *UV-VIS Spectroscopy and its Applications*, Springer 1992). Real bands are
   closer to Gaussian in energy than in wavelength; over one band the difference does not matter
   for a simulator.
4. **Stray light** (Skoog, Holler, Crouch, *Principles of Instrumental Analysis*, ch. 13, on the
   limits of Beer's law): light of power ``P_s = s · P_0`` reaches the detector without passing
   the sample, so the observed transmittance is ``T_obs = (10^-A + s) / (1 + s)`` and the observed
   absorbance ``A_obs = -log10(T_obs)`` flattens towards ``log10((1 + s) / s)`` (4.0 A for
   ``s = 1e-4``): concentrated samples saturate instead of reading ever higher.
5. **Detector noise** is additive on the transmittance, ``T_meas = T_obs + N(0, σ_T)`` with
   ``σ_T = noise_abs · ln 10``, so ``noise_abs`` is the RMS absorbance noise at 0 A (how data sheets
   quote it) and the absorbance noise grows as ``σ_T / (T ln 10)`` towards saturation, as it does
   on a real instrument. One draw per wavelength, in wavelength order, from the generator keyed by
   the campaign seed, the instrument and the sample.
6. **Reporting.** ``A = -log10(T_meas)`` is pinned to the photometric range
   ``[-0.3, max_absorbance]`` (what the instrument can display; a transmittance at or below
   ``10^-max_absorbance`` reads as the limit) and reported to 0.0001 A, the display resolution.
   ``A_<nm>`` is read off this reported spectrum (linear interpolation between scan points);
   ``lambda_max`` is the scan wavelength of its highest absorbance (the shortest one, on a
   saturated plateau).

The default absorption bands of the SnAr species (:data:`SNAR_BANDS`) are **illustrative, not
measured**: they put each species where its chromophore class absorbs in ethanol so that spectra
look and behave plausibly, and must not be used for real quantitation. 2,4-Difluoronitrobenzene
has the nitrobenzene band near 255 nm; pyrrolidine, a saturated amine, is transparent above about
220 nm; the three products are nitroanilines whose amine-to-nitro charge-transfer band lies at the
violet edge of the visible: the ortho product (2-nitro-N,N-dialkylaniline type) near 420 nm and
weaker, the para product (4-nitro-N,N-dialkylaniline, a strong push-pull chromophore) near 390 nm
and strong, the bis adduct with two donors near 400 nm.

A scan takes ``handling_s + 60 · (wavelength_max_nm - wavelength_min_nm) / scan_nm_per_min``
seconds of lab time: dilution, cuvette fill and rinse, then the monochromator sweep. The default
scan, 300-600 nm at 600 nm/min after 30 s of handling, takes 60 s; it covers the products'
visible bands, where product formation shows, and only the tail of the starting material's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from cfl.devices import DeviceContext, Reading, parse_options
from cfl.errors import DeviceFault

__all__ = [
    "SNAR_BANDS",
    "Band",
    "SimUVVis",
    "UVVisOptions",
    "analytical_name",
    "molar_absorptivity",
    "unknown_species",
]

_FOUR_LN2 = 4.0 * math.log(2.0)
_A_FLOOR = -0.3
"""Lowest absorbance the instrument displays; only noise on a blank can approach it."""
_RESOLUTION = 4
"""Decimals of absorbance reported (0.0001 A)."""
_MAX_POINTS = 20001


class Band(BaseModel):
    """One Gaussian absorption band of a species."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    centre_nm: float = Field(gt=0)
    epsilon: float = Field(ge=0)
    """Peak molar absorptivity, L mol⁻¹ cm⁻¹."""
    fwhm_nm: float = Field(gt=0)
    """Full width at half maximum."""


SNAR_BANDS: Mapping[str, tuple[Band, ...]] = {
    "dfnb": (Band(centre_nm=255.0, epsilon=8000.0, fwhm_nm=50.0),),
    "pyrrolidine": (),
    "ortho": (
        Band(centre_nm=265.0, epsilon=9000.0, fwhm_nm=50.0),
        Band(centre_nm=420.0, epsilon=5000.0, fwhm_nm=100.0),
    ),
    "para": (Band(centre_nm=390.0, epsilon=18000.0, fwhm_nm=90.0),),
    "bis": (Band(centre_nm=400.0, epsilon=15000.0, fwhm_nm=100.0),),
}
"""Illustrative (not measured) absorption bands of the SnAr species; see the module docstring."""


def molar_absorptivity(
    bands: Sequence[Band], wavelengths_nm: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``ε(λ)`` in L mol⁻¹ cm⁻¹ of a species with these Gaussian ``bands``, at each wavelength.

    ``ε(λ) = Σ_b ε_b · exp(-4 ln 2 · (λ - λ_b)² / w_b²)``; a species without bands is transparent.
    """
    epsilon = np.zeros_like(wavelengths_nm, dtype=np.float64)
    for band in bands:
        offset = (wavelengths_nm - band.centre_nm) / band.fwhm_nm
        epsilon += band.epsilon * np.exp(-_FOUR_LN2 * offset**2)
    return epsilon


def unknown_species(
    contents: Mapping[str, float], species: Mapping[str, Sequence[Band]]
) -> list[str]:
    """Species in ``contents`` that have no band list, sorted.

    A simulator cannot know how an unlisted species absorbs; reading it as transparent would
    silently under-report, so callers refuse the sample instead.
    """
    return sorted(set(contents) - set(species))


def analytical_name(wavelength_nm: float) -> str:
    """The value name of the absorbance at ``wavelength_nm``: ``A_400``, ``A_254.5``."""
    return f"A_{wavelength_nm:g}"


class UVVisOptions(BaseModel):
    """Options of ``sim-uvvis`` in a lab file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    species: dict[str, tuple[Band, ...]] = Field(default_factory=lambda: dict(SNAR_BANDS))
    """Absorption bands by species; replaces the defaults (give ``[]`` for a transparent one)."""
    pathlength_cm: float = Field(default=1.0, gt=0)
    dilution: float = Field(default=1000.0, ge=1)
    """Dilution factor of the aliquot in the cuvette; 1 reads the sample neat."""
    wavelength_min_nm: float = Field(default=300.0, gt=0)
    wavelength_max_nm: float = Field(default=600.0, gt=0)
    step_nm: float = Field(default=1.0, gt=0)
    analytical_nm: tuple[float, ...] = (400.0,)
    """Wavelengths reported as values ``A_<nm>`` (linear interpolation between scan points)."""
    stray_light: float = Field(default=1e-4, ge=0, lt=1)
    """Stray-light fraction ``s`` of the incident power."""
    noise_abs: float = Field(default=2e-4, ge=0, le=0.01)
    """RMS absorbance noise at 0 A."""
    max_absorbance: float = Field(default=5.0, gt=0)
    """Top of the photometric range; darker readings are pinned to it."""
    scan_nm_per_min: float = Field(default=600.0, gt=0)
    handling_s: float = Field(default=30.0, ge=0)
    """Dilution, cuvette fill and rinse, before the sweep."""

    @model_validator(mode="after")
    def _check_scan(self) -> UVVisOptions:
        low, high = self.wavelength_min_nm, self.wavelength_max_nm
        if low >= high:
            raise ValueError(
                f"wavelength_min_nm ({low:g}) must be below wavelength_max_nm ({high:g})"
            )
        points = math.floor((high - low) / self.step_nm + 1e-9) + 1
        if points > _MAX_POINTS:
            raise ValueError(
                f"a scan of {low:g}-{high:g} nm at step_nm={self.step_nm:g} has {points} points, "
                f"more than {_MAX_POINTS}; widen the step"
            )
        outside = [nm for nm in self.analytical_nm if not low <= nm <= high]
        if outside:
            raise ValueError(f"analytical_nm {outside} lie outside the scan {low:g}-{high:g} nm")
        names = [analytical_name(nm) for nm in self.analytical_nm]
        if len(set(names)) != len(names):
            raise ValueError(f"analytical_nm give repeated value names {names}")
        return self

    @property
    def wavelengths_nm(self) -> NDArray[np.float64]:
        """The scan's wavelength grid, from the minimum in ``step_nm`` steps."""
        points = (
            math.floor((self.wavelength_max_nm - self.wavelength_min_nm) / self.step_nm + 1e-9) + 1
        )
        grid = self.wavelength_min_nm + self.step_nm * np.arange(points, dtype=np.float64)
        return np.round(grid, 6)


class SimUVVis:
    """Simulated scanning UV-Vis spectrophotometer; see the module docstring.

    Satisfies :class:`cfl.devices.Measures` only: it reads what sits in it and changes nothing.
    """

    def __init__(self, name: str, options: UVVisOptions, context: DeviceContext) -> None:
        self.name = name
        self._options = options
        self._context = context
        self._faults = context.injector(name)
        self._wavelengths = options.wavelengths_nm
        self.measurands: Mapping[str, tuple[float, float]] = {
            **{
                analytical_name(nm): (_A_FLOOR, options.max_absorbance)
                for nm in options.analytical_nm
            },
            "lambda_max": (options.wavelength_min_nm, options.wavelength_max_nm),
        }
        """Absorbance at each analytical wavelength, in the photometric range, and the
        wavelength of the highest absorbance, within the scan."""

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SimUVVis:
        return cls(name, parse_options(UVVisOptions, options, device=name), context)

    @property
    def scan_s(self) -> float:
        """Lab seconds one measurement takes."""
        o = self._options
        span = o.wavelength_max_nm - o.wavelength_min_nm
        return o.handling_s + 60.0 * span / o.scan_nm_per_min

    def true_absorbance(self, contents: Mapping[str, float]) -> NDArray[np.float64]:
        """Beer-Lambert absorbance of the diluted aliquot over the scan, before the instrument.

        ``A(λ) = l · Σ_i ε_i(λ) c_i / dilution``.
        """
        o = self._options
        total = np.zeros_like(self._wavelengths)
        for species, concentration in contents.items():
            total += molar_absorptivity(o.species[species], self._wavelengths) * concentration
        return total * (o.pathlength_cm / o.dilution)

    async def measure(self, sample: str) -> Reading:
        """Scan ``sample``'s spectrum; values hold ``A_<nm>`` and ``lambda_max``.

        Raises:
            DeviceFault: the sample is not in the instrument, is empty, or holds a species the
                simulator has no bands for.
        """
        vial = self._context.bench.require_at(
            sample, self.name, device=self.name, command="measure"
        )
        if not vial.contents:
            raise DeviceFault(
                f"{self.name}: sample {sample} is empty; nothing was made in it",
                device=self.name,
                command="measure",
            )
        unknown = unknown_species(vial.contents, self._options.species)
        if unknown:
            raise DeviceFault(
                f"{self.name} has no absorption bands for {unknown} in sample {sample}; add them "
                "to options.species (an empty list for a transparent species)",
                device=self.name,
                command="measure",
            )
        contents = dict(vial.contents)  # as it was when the aliquot was drawn
        await self._faults.run("measure", self.scan_s, self._context.clock.sleep)
        o = self._options
        rng = self._context.rng(self.name, sample)
        absorbance = self.true_absorbance(contents)
        s = o.stray_light
        transmittance = (10.0**-absorbance + s) / (1.0 + s)
        transmittance = transmittance + rng.normal(
            0.0, o.noise_abs * math.log(10.0), size=transmittance.shape
        )
        transmittance = np.clip(transmittance, 10.0**-o.max_absorbance, 10.0**-_A_FLOOR)
        measured = np.round(-np.log10(transmittance), _RESOLUTION) + 0.0  # no -0.0
        values = {
            analytical_name(nm): round(
                float(np.interp(nm, self._wavelengths, measured)), _RESOLUTION
            )
            for nm in o.analytical_nm
        }
        values["lambda_max"] = float(self._wavelengths[int(np.argmax(measured))])
        return Reading(
            values=self._faults.corrupt(values),
            raw={
                "wavelength_nm": [float(x) for x in self._wavelengths],
                "absorbance": [float(x) for x in measured],
            },
        )
