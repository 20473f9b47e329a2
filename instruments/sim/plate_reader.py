"""A simulated absorbance microplate reader for 96-well plates (8 rows A-H x 12 columns).

**The plate on the bench.** A plate is one bench sample. Its wells are named ``A01`` ... ``H12``
(row letter, two-digit column). ``contents`` holds each well's concentrations under the key
``"<well>/<species>"`` (``"B07/dye": 2.5e-5``, mol/L) and ``charge`` the volume of solution
dispensed into it under ``"<well>/volume_ul"`` (µL), in keeping with vials, where ``contents``
holds concentrations and ``charge`` what was put in. A well without a volume is empty (air).
:func:`fill_plate` fills wells this way; a future liquid handler should write the same keys.

Physics of one read, for each well:

1. **Edge effect.** The 36 outer wells (rows A and H, columns 1 and 12) have less humid
   surroundings than inner wells and lose a fraction ``f = edge_evaporation`` of their solvent
   before the read (Lundholt, Scudder, Pagliaro, J. Biomol. Screen. 8, 566-570 (2003)). Solutes
   stay, so ``c' = c / (1 - f)`` and ``V' = V (1 - f)``; inner wells keep ``c`` and ``V``.
2. **Beer-Lambert law with a vertical beam.** The light passes down through the liquid column,
   whose height in a flat-bottomed well of area ``a`` is the pathlength ``l' = V' / a`` (µL / 1000
   gives cm³, over cm² gives cm; 200 µL in a 0.32 cm² well is 0.625 cm). The absorbance is
   ``A = l' · Σ_i ε_i(λ) c'_i`` with ``ε_i`` from the species' Gaussian bands at the read
   wavelength (:func:`instruments.sim.uvvis.molar_absorptivity`; the SnAr defaults there are
   illustrative, not measured).
   Note what follows: ``c' l' = c l``, so evaporation does **not** change the raw vertical
   absorbance (the solute in the beam is the same, in a shorter column).
3. **Pathlength correction** (``pathlength_correction``, on by default). The reader measures each
   well's liquid height from the water band (``A_977 - A_900``, 0.18 A per cm of water at 25 °C;
   e.g. Molecular Devices' PathCheck) and reports the absorbance per 1 cm, ``A / l' = Σ ε_i c'_i``,
   comparable with a cuvette. That is where the edge effect shows: outer wells read ``1 / (1 - f)``
   times higher than the same solution in an inner well (2 % at the default ``f = 0.02``). The
   water-band measurement is taken as exact here; its own scatter is not modelled. Empty wells
   have no column to correct by and are reported uncorrected.
4. **Read noise**, as plate-reader data sheets state precision: ``A_meas = A (1 + e_rel) +
   e_abs`` with ``e_rel ~ N(0, noise_pct / 100)`` and ``e_abs ~ N(0, noise_od)``; 96 draws of
   ``e_rel`` then 96 of ``e_abs``, wells in row order A01, A02 ... H12, from the generator keyed by
   the campaign seed, the reader and the plate.
5. **Reporting.** ``A_meas`` is pinned to the photometric range ``[-0.5, max_od]`` (a well darker
   than ``max_od`` reads as ``max_od``), then corrected, then reported to 0.0001.

A read takes ``96 · read_s_per_well · n + plate_move_s`` seconds of lab time: every well is read
at the analytical wavelength and, with pathlength correction, at 977 and 900 nm too (``n = 3``,
otherwise 1), plus moving the plate carrier in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cfl.bench import BenchSample
from cfl.devices import DeviceContext, Reading, parse_options
from cfl.errors import DeviceFault
from instruments.sim.uvvis import SNAR_BANDS, Band, molar_absorptivity

__all__ = [
    "COLUMNS",
    "EDGE_WELLS",
    "ROWS",
    "WELLS",
    "PlateReaderOptions",
    "SimPlateReader",
    "fill_plate",
    "volume_key",
]

ROWS = "ABCDEFGH"
COLUMNS = tuple(range(1, 13))
WELLS: tuple[str, ...] = tuple(f"{row}{column:02d}" for row in ROWS for column in COLUMNS)
"""All 96 well names in row order: A01, A02 ... A12, B01 ... H12."""
EDGE_WELLS: frozenset[str] = frozenset(
    w for w in WELLS if w[0] in (ROWS[0], ROWS[-1]) or int(w[1:]) in (COLUMNS[0], COLUMNS[-1])
)
"""The 36 outer wells, which lose solvent to evaporation."""

_OD_FLOOR = -0.5
"""Lowest absorbance the reader displays; a blanked plate reaches it only by a fault."""
_RESOLUTION = 4
"""Decimals reported (0.0001 OD)."""


def volume_key(well: str) -> str:
    """The ``charge`` key holding the volume (µL) dispensed into ``well``."""
    return f"{well}/volume_ul"


def fill_plate(
    plate: BenchSample,
    wells: Mapping[str, Mapping[str, float]],
    *,
    volume_ul: float = 200.0,
) -> None:
    """Dispense ``volume_ul`` of solution into each of ``wells`` of ``plate``.

    ``wells`` maps a well name to its species and concentrations (mol/L); ``{}`` is a solvent
    blank. What the wells held before is replaced; other wells are left as they are.

    Raises:
        ValueError: a well name is not A01-H12, the volume is not positive, or a concentration
            is negative.
    """
    if volume_ul <= 0:
        raise ValueError(f"volume_ul must be positive, got {volume_ul}")
    for well, species in wells.items():
        if well not in WELLS:
            raise ValueError(f"no well {well!r} on a 96-well plate; wells are A01-H12")
        negative = {s: c for s, c in species.items() if c < 0}
        if negative:
            raise ValueError(f"negative concentrations in {well}: {negative}")
        prefix = f"{well}/"
        for key in [k for k in plate.contents if k.startswith(prefix)]:
            del plate.contents[key]
        plate.contents.update({prefix + s: float(c) for s, c in species.items()})
        plate.charge[volume_key(well)] = float(volume_ul)


class PlateReaderOptions(BaseModel):
    """Options of ``sim-plate-reader`` in a lab file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wavelength_nm: float = Field(default=400.0, gt=0)
    """The analytical wavelength (filter or monochromator setting)."""
    species: dict[str, tuple[Band, ...]] = Field(default_factory=lambda: dict(SNAR_BANDS))
    """Absorption bands by species, as for ``sim-uvvis``; replaces the defaults."""
    well_area_cm2: float = Field(default=0.32, gt=0)
    """Bottom area of a flat-bottomed well (a standard 96-well plate: about 0.32 cm²)."""
    min_volume_ul: float = Field(default=50.0, gt=0)
    """Least volume a filled well may hold: below it the meniscus, not the liquid, sets the path."""
    pathlength_correction: bool = True
    edge_evaporation: float = Field(default=0.02, ge=0, lt=0.5)
    """Fraction of an outer well's solvent lost before the read."""
    noise_pct: float = Field(default=0.5, ge=0)
    noise_od: float = Field(default=0.003, ge=0)
    max_od: float = Field(default=4.0, gt=0)
    read_s_per_well: float = Field(default=0.25, ge=0)
    plate_move_s: float = Field(default=10.0, ge=0)


class SimPlateReader:
    """Simulated 96-well absorbance reader; see the module docstring.

    Satisfies :class:`cfl.devices.Measures` only. ``measurands`` has one entry per well, ranged
    by the photometric range and, with pathlength correction, the shortest column a well may hold.
    """

    def __init__(self, name: str, options: PlateReaderOptions, context: DeviceContext) -> None:
        self.name = name
        self._options = options
        self._context = context
        self._faults = context.injector(name)
        at = np.array([options.wavelength_nm], dtype=np.float64)
        self._epsilon = {
            species: float(molar_absorptivity(bands, at)[0])
            for species, bands in options.species.items()
        }
        low, high = _OD_FLOOR, options.max_od
        if options.pathlength_correction:
            shortest = self.pathlength_cm(options.min_volume_ul, options.edge_evaporation)
            low, high = min(low, low / shortest), max(high, high / shortest)
        self.measurands: Mapping[str, tuple[float, float]] = {w: (low, high) for w in WELLS}

    @classmethod
    def from_config(
        cls, name: str, options: Mapping[str, JsonValue], context: DeviceContext
    ) -> SimPlateReader:
        return cls(name, parse_options(PlateReaderOptions, options, device=name), context)

    @property
    def read_s(self) -> float:
        """Lab seconds one plate read takes."""
        o = self._options
        reads = 3 if o.pathlength_correction else 1
        return len(WELLS) * o.read_s_per_well * reads + o.plate_move_s

    def pathlength_cm(self, volume_ul: float, evaporated: float = 0.0) -> float:
        """Height of the liquid column, ``V (1 - f) / a``, in cm."""
        return volume_ul * (1.0 - evaporated) / 1000.0 / self._options.well_area_cm2

    def epsilon(self, species: str) -> float:
        """Molar absorptivity of ``species`` at the read wavelength, L mol⁻¹ cm⁻¹."""
        return self._epsilon[species]

    def _wells(self, plate: BenchSample) -> dict[str, tuple[float, dict[str, float]]]:
        """Each filled well's volume (µL) and concentrations, after checking the plate."""
        concentrations: dict[str, dict[str, float]] = {}
        for key, value in plate.contents.items():
            well, _, species = key.partition("/")
            if well not in WELLS or not species:
                self._fault(f"plate {plate.id} has content {key!r}; keys are '<A01-H12>/<species>'")
            if species not in self._epsilon:
                self._fault(
                    f"no absorption bands for {species!r} (well {well} of plate {plate.id}); "
                    "add it to options.species (an empty list for a transparent species)"
                )
            concentrations.setdefault(well, {})[species] = value
        wells: dict[str, tuple[float, dict[str, float]]] = {}
        for well in WELLS:
            volume = plate.charge.get(volume_key(well), 0.0)
            if isinstance(volume, str) or volume < 0:
                self._fault(f"well {well} of plate {plate.id} has volume {volume!r} µL")
            if volume == 0:
                if well in concentrations:
                    self._fault(f"well {well} of plate {plate.id} has contents but no volume")
                continue
            if volume < self._options.min_volume_ul:
                self._fault(
                    f"well {well} of plate {plate.id} holds {volume:g} µL, less than the "
                    f"{self._options.min_volume_ul:g} µL the reader needs"
                )
            wells[well] = (float(volume), concentrations.get(well, {}))
        if not wells:
            self._fault(f"plate {plate.id} is empty; no well holds any liquid")
        return wells

    def _fault(self, message: str) -> NoReturn:
        raise DeviceFault(f"{self.name}: {message}", device=self.name, command="measure")

    async def measure(self, sample: str) -> Reading:
        """Read every well of plate ``sample``; values map ``A01`` ... ``H12`` to absorbance.

        Raises:
            DeviceFault: the plate is not in the reader, no well holds liquid, or the plate's
                keys, volumes or species are not what the reader can read.
        """
        plate = self._context.bench.require_at(
            sample, self.name, device=self.name, command="measure"
        )
        wells = self._wells(plate)
        await self._faults.run("measure", self.read_s, self._context.clock.sleep)
        o = self._options
        rng = self._context.rng(self.name, sample)
        relative = rng.normal(0.0, o.noise_pct / 100.0, size=len(WELLS))
        absolute = rng.normal(0.0, o.noise_od, size=len(WELLS))
        values: dict[str, float] = {}
        paths: dict[str, float | None] = {}
        for i, well in enumerate(WELLS):
            true = 0.0
            path: float | None = None
            if well in wells:
                volume, concentrations = wells[well]
                lost = o.edge_evaporation if well in EDGE_WELLS else 0.0
                path = self.pathlength_cm(volume, lost)
                true = path * sum(
                    self._epsilon[s] * c / (1.0 - lost) for s, c in concentrations.items()
                )
            read = true * (1.0 + relative[i]) + absolute[i]
            read = min(max(float(read), _OD_FLOOR), o.max_od)
            if o.pathlength_correction and path is not None:
                read /= path
            values[well] = round(read, _RESOLUTION) + 0.0  # no -0.0
            paths[well] = None if path is None else round(path, 6)
        matrix: list[JsonValue] = [
            [values[f"{row}{column:02d}"] for column in COLUMNS] for row in ROWS
        ]
        path_matrix: list[JsonValue] = [
            [paths[f"{row}{column:02d}"] for column in COLUMNS] for row in ROWS
        ]
        return Reading(
            values=self._faults.corrupt(values),
            raw={
                "absorbance": matrix,
                "pathlength_cm": path_matrix,
                "per_cm": o.pathlength_correction,
                "wavelength_nm": o.wavelength_nm,
            },
        )
